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

// ln(1 + x), precise near 0: 2 atanh(s) with s = x / (2 + x) as a series for |x| < 1/2
// (|s| < 1/3; the next term is below 5e-9 relative), log(1 + x) corrected for the rounding
// of 1 + x beyond (Goldberg), where log's own error is small relative to the result.
fn log1p(x: f32) -> f32 {
    if (abs(x) < 0.5) {
        let s = x / (2.0 + x);
        let s2 = s * s;
        return 2.0 * s * (1.0 + s2 * (0.33333333 + s2 * (0.2 + s2 * (0.14285714 + s2 * (0.11111111
            + s2 * (0.09090909 + s2 * (0.07692308 + s2 * 0.06666667)))))));
    }
    let u = 1.0 + x;
    if (u == bitcast<f32>(POS_INF)) { return u; }
    return log(u) * (x / (u - 1.0));
}

// atan to about 1 ulp (Cephes' atanf: reduction to |x| <= tan(pi/8) and a minimax polynomial);
// the built-in atan/asin/acos/atan2 of some drivers (llvmpipe) are off by 1e-4 relative.
fn atan_precise(x: f32) -> f32 {
    let a = abs(x);
    var y = 0.0;
    var t = a;
    if (a > 2.414213562373095) {
        y = 1.5707963267948966;
        t = -1.0 / a;
    } else if (a > 0.4142135623730950) {
        y = 0.7853981633974483;
        t = (a - 1.0) / (a + 1.0);
    }
    let z = t * t;
    y = y + ((((8.05374449538e-2 * z - 1.38776856032e-1) * z + 1.99777106478e-1) * z - 3.33329491539e-1) * z * t + t);
    return select(y, -y, x < 0.0);
}

fn atan2_precise(y: f32, x: f32) -> f32 {
    if (is_nan(x) || is_nan(y)) { return bitcast<f32>(QUIET_NAN); }
    let pi = 3.1415926535897932;
    if (x == 0.0 && y == 0.0) { // +-0 or +-pi, by the signs of the zeros
        let r = select(0.0, pi, (1.0 / x) < 0.0);
        return select(r, -r, (1.0 / y) < 0.0);
    }
    if (x == 0.0) { return select(pi / 2.0, -pi / 2.0, y < 0.0); }
    let inf = bitcast<f32>(POS_INF);
    if (abs(x) == inf || abs(y) == inf) {
        return atan2(y, x); // the special cases are exact in every implementation
    }
    let r = atan_precise(y / x);
    if (x > 0.0) { return r; }
    return select(r + pi, r - pi, y < 0.0 || (y == 0.0 && (1.0 / y) < 0.0));
}

fn asin_precise(x: f32) -> f32 {
    if (abs(x) > 1.0) { return bitcast<f32>(QUIET_NAN); }
    return atan2_precise(x, sqrt((1.0 - x) * (1.0 + x)));
}

fn acos_precise(x: f32) -> f32 {
    if (abs(x) > 1.0) { return bitcast<f32>(QUIET_NAN); }
    return atan2_precise(sqrt((1.0 - x) * (1.0 + x)), x);
}

// sinh from expm1, precise near 0 where (exp(x) - exp(-x)) / 2 cancels.
fn sinh_precise(x: f32) -> f32 {
    let e = expm1(abs(x));
    let r = 0.5 * (e + e / (e + 1.0));
    return select(r, -r, x < 0.0);
}

// asinh and atanh through log1p, so they keep their precision near 0 and asinh its sign.
fn asinh_stable(x: f32) -> f32 {
    let a = abs(x);
    var r: f32;
    if (a > 1e18) {
        r = log(a) + 0.69314718055994531;
    } else {
        r = log1p(a + a * a / (1.0 + sqrt(1.0 + a * a)));
    }
    return select(r, -r, x < 0.0);
}

fn atanh_stable(x: f32) -> f32 {
    return 0.5 * log1p(2.0 * x / (1.0 - x));
}

// lo below lo, hi above hi, NaN stays NaN.
fn hardtanh(x: f32, lo: f32, hi: f32) -> f32 {
    if (x < lo) { return lo; }
    if (x > hi) { return hi; }
    return x;
}

// PyTorch's clamp: min first, then max; a NaN bound gives NaN.
fn clamp_keep_nan(x: f32, lo: f32, hi: f32) -> f32 {
    if (is_nan(lo) || is_nan(hi)) { return lo + hi; }
    let y = select(x, lo, x < lo);
    return select(y, hi, y > hi);
}

fn clamp_int(x: i32, lo: i32, hi: i32) -> i32 {
    return min(max(x, lo), hi);
}

fn pow_scalar(x: f32, a: f32) -> f32 {
    if (a == 2.0) { return x * x; }
    if (a == 3.0) { return x * x * x; }
    if (a == 1.0) { return x; }
    if (a == 0.5) { return sqrt(x); }
    if (a == -1.0) { return 1.0 / x; }
    return powf(x, a);
}

// C's fmod (the dividend's sign); a finite x over an infinite y is x.
fn fmod(x: f32, y: f32) -> f32 {
    if (abs(y) == bitcast<f32>(POS_INF) && abs(x) != bitcast<f32>(POS_INF)) { return x; }
    return x - y * trunc(x / y);
}

// Python's %: fmod moved into the divisor's sign.
fn python_mod(x: f32, y: f32) -> f32 {
    let m = fmod(x, y);
    if (m != 0.0 && ((y < 0.0) != (m < 0.0))) { return m + y; }
    return m;
}

// Python's //, as PyTorch computes it (from fmod, so it agrees with %).
fn floor_div(x: f32, y: f32) -> f32 {
    if (y == 0.0) { return x / y; }
    let m = fmod(x, y);
    var d = (x - m) / y;
    if (m != 0.0 && ((y < 0.0) != (m < 0.0))) { d = d - 1.0; }
    if (d == 0.0) { return select(0.0, -0.0, 1.0 / (x / y) < 0.0); } // the quotient's sign
    let f = floor(d);
    return select(f, f + 1.0, d - f > 0.5);
}

// Integer //, % and fmod (WGSL defines i32 MIN / -1 as MIN and MIN % -1 as 0, as PyTorch wraps).
fn floor_div_i32(x: i32, y: i32) -> i32 {
    let q = x / y;
    return select(q, q - 1, x % y != 0 && ((x < 0) != (y < 0)));
}

fn python_mod_i32(x: i32, y: i32) -> i32 {
    let r = x % y;
    return select(r, r + y, r != 0 && ((r < 0) != (y < 0)));
}

fn fmod_i32(x: i32, y: i32) -> i32 {
    return x % y;
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

// erfc to about 1.2e-7 relative (Numerical Recipes' erfcc Chebyshev fit) from |x| = 0.5 on,
// where 1 - erf(x) would cancel; 1 - erf(x) nearer 0, where erfc is near 1.
fn erfc(x: f32) -> f32 {
    let z = abs(x);
    if (z < 0.5) { return 1.0 - erf(x); }
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t * exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806
        + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
    return select(r, 2.0 - r, x < 0.0);
}

// erf^-1 (Giles 2010, single precision): +-inf at +-1, NaN beyond.
fn erfinv(x: f32) -> f32 {
    let a = abs(x);
    if (is_nan(x) || a > 1.0) { return bitcast<f32>(QUIET_NAN); }
    if (a == 1.0) { return select(bitcast<f32>(POS_INF), -bitcast<f32>(POS_INF), x < 0.0); }
    var w = -log((1.0 - x) * (1.0 + x));
    var p: f32;
    if (w < 5.0) {
        w = w - 2.5;
        p = 2.81022636e-08;
        p = 3.43273939e-07 + p * w; p = -3.5233877e-06 + p * w; p = -4.39150654e-06 + p * w;
        p = 0.00021858087 + p * w; p = -0.00125372503 + p * w; p = -0.00417768164 + p * w;
        p = 0.246640727 + p * w; p = 1.50140941 + p * w;
    } else {
        w = sqrt(w) - 3.0;
        p = -0.000200214257;
        p = 0.000100950558 + p * w; p = 0.00134934322 + p * w; p = -0.00367342844 + p * w;
        p = 0.00573950773 + p * w; p = -0.0076224613 + p * w; p = 0.00943887047 + p * w;
        p = 1.00167406 + p * w; p = 2.83297682 + p * w;
    }
    return p * x;
}

// sin(pi x) / (pi x), 1 at 0.
fn sinc(x: f32) -> f32 {
    if (x == 0.0) { return 1.0; }
    let px = x * 3.14159265358979;
    return sin(px) / px;
}

// log(z / (1 - z)) with z = x clamped to [eps, 1 - eps] when eps >= 0.
fn logit(x: f32, eps: f32) -> f32 {
    let z = select(x, hardtanh(x, eps, 1.0 - eps), eps >= 0.0);
    return log(z / (1.0 - z));
}

// sqrt(x^2 + y^2) scaled by the larger magnitude (no overflow); inf beats NaN, as C's hypot.
fn hypot_f32(x: f32, y: f32) -> f32 {
    let ax = abs(x);
    let ay = abs(y);
    let inf = bitcast<f32>(POS_INF);
    if (ax == inf || ay == inf) { return inf; }
    if (is_nan(x) || is_nan(y)) { return bitcast<f32>(QUIET_NAN); }
    let m = max(ax, ay);
    if (m == 0.0) { return 0.0; }
    let r = min(ax, ay) / m;
    return m * sqrt(1.0 + r * r);
}

// log(exp(x) + exp(y)) from the larger operand; equal infinities return themselves.
fn logaddexp_f32(x: f32, y: f32) -> f32 {
    if (is_nan(x) || is_nan(y)) { return bitcast<f32>(QUIET_NAN); }
    if (x == y && abs(x) == bitcast<f32>(POS_INF)) { return x; }
    return max(x, y) + log1p(exp(-abs(x - y)));
}

fn logaddexp2_f32(x: f32, y: f32) -> f32 {
    if (is_nan(x) || is_nan(y)) { return bitcast<f32>(QUIET_NAN); }
    if (x == y && abs(x) == bitcast<f32>(POS_INF)) { return x; }
    return max(x, y) + log1p(exp2(-abs(x - y))) * 1.4426950408889634;
}

// x * log(y), 0 where x == 0 unless y is NaN.
fn xlogy_f32(x: f32, y: f32) -> f32 {
    if (is_nan(y)) { return bitcast<f32>(QUIET_NAN); }
    if (x == 0.0) { return 0.0; }
    return x * log(y);
}

fn copysign_f32(x: f32, y: f32) -> f32 {
    return bitcast<f32>((bitcast<u32>(x) & 0x7fffffffu) | (bitcast<u32>(y) & 0x80000000u));
}

// The next float after x toward y, stepping on the bits.
fn nextafter_f32(x: f32, y: f32) -> f32 {
    if (is_nan(x) || is_nan(y)) { return bitcast<f32>(QUIET_NAN); }
    if (x == y) { return y; }
    if (x == 0.0) { return bitcast<f32>(select(1u, 0x80000001u, y < 0.0)); }
    let b = bitcast<u32>(x);
    return bitcast<f32>(select(b - 1u, b + 1u, (x < y) == (x > 0.0)));
}

// Shifts as PyTorch's: a count out of [0, width) gives 0 (left) or the sign fill (right).
fn shl_i32(x: i32, y: i32) -> i32 {
    if (y < 0 || y >= 32) { return 0; }
    return x << u32(y);
}

fn shr_i32(x: i32, y: i32) -> i32 {
    return x >> u32(select(31, y, y >= 0 && y < 32));
}
