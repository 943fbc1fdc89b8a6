// Float functions WGSL lacks or leaves loose (a library included by elementwise kernels).
// They follow the CPU kernels: NaN propagates, pow of a negative base works for integer
// exponents, tanh saturates instead of overflowing to NaN.

const QUIET_NAN: u32 = 0x7fc00000u;
const POS_INF: u32 = 0x7f800000u;

fn powf(x: f32, y: f32) -> f32 {
    if (y == 0.0) { return 1.0; }
    if (is_nan(x) || is_nan(y)) { return bitcast<f32>(QUIET_NAN); }
    if (x == 1.0) { return 1.0; }
    let odd = fract(y * 0.5) != 0.0;
    if (x == 0.0) {
        if (y > 0.0) { return 0.0; }
        return bitcast<f32>(POS_INF);
    }
    if (x < 0.0 && fract(y) != 0.0) { return bitcast<f32>(QUIET_NAN); }
    let r = exp2(y * log2(abs(x)));
    return select(r, -r, x < 0.0 && odd);
}

// erf to about 1e-7 absolute: a Taylor series near 0, Abramowitz & Stegun 7.1.26 beyond.
fn erf(x: f32) -> f32 {
    let ax = abs(x);
    if (ax < 0.5) {
        let x2 = x * x;
        return 1.1283791671 * x * (1.0 + x2 * (-0.3333333333 + x2 * (0.1 + x2 * (-0.0238095238 + x2 * (0.0046296296 - x2 * 0.0007575758)))));
    }
    let t = 1.0 / (1.0 + 0.3275911 * ax);
    let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
    let r = 1.0 - poly * exp(-ax * ax);
    return select(r, -r, x < 0.0);
}

// exp(x) - 1 without the cancellation near 0 (where exp(x) rounds towards 1): the Taylor
// series through x^9 for |x| < 0.35 (the next term is below 3e-11 relative), the plain
// difference beyond (where it loses under 2 bits).
fn expm1(x: f32) -> f32 {
    if (abs(x) < 0.35) {
        return x * (1.0 + x * (0.5 + x * (1.6666667e-1 + x * (4.1666668e-2 + x * (8.3333338e-3
            + x * (1.3888889e-3 + x * (1.9841270e-4 + x * (2.4801587e-5 + x * 2.7557319e-6))))))));
    }
    return exp(x) - 1.0;
}

fn sigmoid(x: f32) -> f32 {
    if (x >= 0.0) {
        return 1.0 / (1.0 + exp(-x));
    }
    let e = exp(x);
    return e / (1.0 + e);
}

fn tanh_safe(x: f32) -> f32 {
    if (abs(x) > 10.0) {
        return sign(x);
    }
    return tanh(x);
}

// Float to int32 as Rust's `as`: truncation, NaN to 0, saturation at the int32 range.
fn f32_to_i32(x: f32) -> i32 {
    if (is_nan(x)) { return 0; }
    if (x >= 2147483648.0) { return 2147483647; }
    if (x <= -2147483648.0) { return bitcast<i32>(0x80000000u); }
    return i32(x);
}

// Wrapping integer power (negative exponents give 0, as on the CPU).
fn ipow(x: i32, y: i32) -> i32 {
    if (y < 0) { return 0; }
    var base = x;
    var e = u32(y);
    var r = 1;
    loop {
        if (e == 0u) { break; }
        if ((e & 1u) == 1u) { r = r * base; }
        base = base * base;
        e = e >> 1u;
    }
    return r;
}
