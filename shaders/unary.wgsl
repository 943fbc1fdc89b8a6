//!include strided.wgsl
//!include math.wgsl
//!include unary_ops.wgsl
// out = f(x) over a strided input; also dtype casts and plain copies (OP = CAST). The
// functions themselves (`unary_table_*`, op codes included) are generated from the op table
// (rust/ops/table.rs) into unary_ops.wgsl. Operands: x = output (contiguous), y = input.
// Scalars: the op's parameters in order, as floats in walk.f (int32 in walk.u for int ops).

override OP: u32 = 0u;
override IN_T: u32 = 0u;
override OUT_T: u32 = 0u;

@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;

// `v` rounded to float16 or bfloat16 (to nearest, ties to even), kept as a float32 word.
// float16 is rounded by hand, not with quantizeToF16: that is indeterminate outside
// float16's range, and software Vulkan flushes its subnormals to zero.
fn round_to_half(t: u32, v: f32) -> u32 {
    if (is_nan(v)) { return QUIET_NAN; }
    let sign = bitcast<u32>(v) & 0x80000000u;
    if (t == F16) {
        let a = abs(v);
        if (a >= 65520.0) { return POS_INF | sign; }  // what rounds past 65504
        var e = -24;  // the quantum of float16's subnormals, 2^-24
        if (a >= 6.103515625e-05) {
            e = i32((bitcast<u32>(a) >> 23u) & 0xffu) - 127 - 10;
        }
        // a / 2^e is exact, and round() takes ties to even.
        return bitcast<u32>(ldexp(round(ldexp(a, -e)), e)) | sign;
    }
    let b = bitcast<u32>(v);
    return (b + 0x7fffu + ((b >> 16u) & 1u)) & 0xffff0000u;
}

fn convert(raw: u32) -> u32 {
    if (IN_T == OUT_T) { return raw; }
    let in_t = select(IN_T, F32, IN_T == F16 || IN_T == BF16);
    if (OUT_T == F16 || OUT_T == BF16) {
        var v = f32(raw);
        if (in_t == F32) { v = bitcast<f32>(raw); }
        if (in_t == I32) { v = f32(bitcast<i32>(raw)); }
        return round_to_half(OUT_T, v);
    }
    if (OUT_T == BOOL) {
        if (in_t == F32) { return select(0u, 1u, f32_nonzero(bitcast<f32>(raw))); }
        return select(0u, 1u, raw != 0u);
    }
    if (OUT_T == F32) {
        if (in_t == F32) { return raw; }
        if (in_t == I32) { return bitcast<u32>(f32(bitcast<i32>(raw))); }
        return bitcast<u32>(f32(raw));
    }
    // OUT_T == I32
    if (in_t == F32) { return bitcast<u32>(f32_to_i32(bitcast<f32>(raw))); }
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
    } else if (IN_T == F32) {
        if (OUT_T == BOOL) {
            out = select(0u, 1u, unary_table_pred_f32(bitcast<f32>(raw)));
        } else {
            out = bitcast<u32>(unary_table_f32(bitcast<f32>(raw)));
        }
    } else if (IN_T == I32) {
        if (OUT_T == BOOL) {
            out = select(0u, 1u, unary_table_pred_i32(bitcast<i32>(raw)));
        } else {
            out = bitcast<u32>(unary_table_i32(bitcast<i32>(raw)));
        }
    } else {
        out = unary_table_bool(raw);
    }
    dst[off.x] = out;
}
