//!include strided.wgsl
//!include math.wgsl
// out = f(x) over a strided input; also dtype casts and plain copies (OP = CAST).
// Operands: x = output (contiguous), y = input. Scalars: walk.f.x / f.y (slope, alpha,
// exponent, clamp bounds), walk.u.x (clamp: bit 0 has a lower bound, bit 1 an upper one),
// walk.u.y / u.z (int clamp bounds, int exponent).

override OP: u32 = 0u;
override IN_T: u32 = 0u;
override OUT_T: u32 = 0u;

const CAST: u32 = 0u;
const NEG: u32 = 1u;
const ABS: u32 = 2u;
const SIGN: u32 = 3u;
const EXP: u32 = 4u;
const LOG: u32 = 5u;
const SQRT: u32 = 6u;
const RSQRT: u32 = 7u;
const RECIPROCAL: u32 = 8u;
const SIN: u32 = 9u;
const COS: u32 = 10u;
const TANH: u32 = 11u;
const SIGMOID: u32 = 12u;
const RELU: u32 = 13u;
const LEAKY_RELU: u32 = 14u;
const ELU: u32 = 15u;
const GELU: u32 = 16u;
const GELU_GRAD: u32 = 17u;
const POW_SCALAR: u32 = 18u;
const CLAMP: u32 = 19u;
const NOT: u32 = 20u;
const ISNAN: u32 = 21u;

@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;

fn unary_f32(x: f32) -> f32 {
    let a = walk.f.x;
    switch OP {
        case NEG: { return -x; }
        case ABS: { return abs(x); }
        case SIGN: {
            if (x > 0.0) { return 1.0; }
            if (x < 0.0) { return -1.0; }
            return x; // +-0 and NaN
        }
        case EXP: { return exp(x); }
        case LOG: { return log(x); }
        case SQRT: { return sqrt(x); }
        case RSQRT: { return 1.0 / sqrt(x); }
        case RECIPROCAL: { return 1.0 / x; }
        case SIN: { return sin(x); }
        case COS: { return cos(x); }
        case TANH: { return tanh_safe(x); }
        case SIGMOID: { return sigmoid(x); }
        case RELU: { return select(0.0, x, x > 0.0 || is_nan(x)); }
        case LEAKY_RELU: { return select(x * a, x, x > 0.0); }
        case ELU: { return select(a * expm1(x), x, x > 0.0); }
        case GELU: { return 0.5 * x * (1.0 + erf(x * 0.70710678118654752)); }
        case GELU_GRAD: {
            return 0.5 * (1.0 + erf(x * 0.70710678118654752)) + x * 0.39894228040143268 * exp(-0.5 * x * x);
        }
        case POW_SCALAR: {
            if (a == 2.0) { return x * x; }
            if (a == 3.0) { return x * x * x; }
            if (a == 1.0) { return x; }
            if (a == 0.5) { return sqrt(x); }
            if (a == -1.0) { return 1.0 / x; }
            return powf(x, a);
        }
        case CLAMP: {
            var y = x;
            if ((walk.u.x & 1u) != 0u && y < walk.f.x) { y = walk.f.x; }
            if ((walk.u.x & 2u) != 0u && y > walk.f.y) { y = walk.f.y; }
            return y;
        }
        default: { return x; }
    }
}

fn unary_i32(x: i32) -> i32 {
    switch OP {
        case NEG: { return -x; }
        case ABS: { return abs(x); }
        case SIGN: { return sign(x); }
        case RELU: { return max(x, 0); }
        case POW_SCALAR: { return ipow(x, bitcast<i32>(walk.u.z)); }
        case CLAMP: {
            var y = x;
            if ((walk.u.x & 1u) != 0u) { y = max(y, bitcast<i32>(walk.u.y)); }
            if ((walk.u.x & 2u) != 0u) { y = min(y, bitcast<i32>(walk.u.z)); }
            return y;
        }
        default: { return x; }
    }
}

fn convert(raw: u32) -> u32 {
    if (IN_T == OUT_T) { return raw; }
    if (OUT_T == BOOL) {
        if (IN_T == F32) { return select(0u, 1u, f32_nonzero(bitcast<f32>(raw))); }
        return select(0u, 1u, raw != 0u);
    }
    if (OUT_T == F32) {
        if (IN_T == I32) { return bitcast<u32>(f32(bitcast<i32>(raw))); }
        return bitcast<u32>(f32(raw));
    }
    // OUT_T == I32
    if (IN_T == F32) { return bitcast<u32>(f32_to_i32(bitcast<f32>(raw))); }
    return raw;
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = workgroup_index(wid, nwg) * WG + li;
    if (i >= walk.count) { return; }
    let off = walk.offsets + unravel(walk.base + i, 0u, walk.ndim);
    let raw = src[off.y];
    var out: u32;
    if (OP == CAST) {
        out = convert(raw);
    } else if (OP == NOT) {
        out = select(1u, 0u, raw != 0u);
    } else if (OP == ISNAN) {
        out = select(0u, 1u, IN_T == F32 && is_nan(bitcast<f32>(raw)));
    } else if (IN_T == F32) {
        out = bitcast<u32>(unary_f32(bitcast<f32>(raw)));
    } else {
        out = bitcast<u32>(unary_i32(bitcast<i32>(raw)));
    }
    dst[off.x] = out;
}
