//!include strided.wgsl
//!include math.wgsl
// Broadcasting binary ops. `main`: out = a op b (operands x = out, y = a, z = b; comparisons
// and logical ops write bools). `inplace`: dst = dst op src (x = dst, y = src), with ASSIGN
// for copies into views. T is the dtype of the inputs.

override OP: u32 = 0u;
override T: u32 = 0u;

const ADD: u32 = 0u;
const SUB: u32 = 1u;
const MUL: u32 = 2u;
const DIV: u32 = 3u;
const POW: u32 = 4u;
const MAXIMUM: u32 = 5u;
const MINIMUM: u32 = 6u;
const FLOOR_DIV: u32 = 7u;
const REMAINDER: u32 = 8u;
const EQ: u32 = 9u;
const NE: u32 = 10u;
const LT: u32 = 11u;
const LE: u32 = 12u;
const GT: u32 = 13u;
const GE: u32 = 14u;
const AND: u32 = 15u;
const OR: u32 = 16u;
const XOR: u32 = 17u;
const ASSIGN: u32 = 18u;

fn b2u(b: bool) -> u32 {
    return select(0u, 1u, b);
}

fn binary_f32(x: f32, y: f32) -> u32 {
    switch OP {
        case ADD: { return bitcast<u32>(x + y); }
        case SUB: { return bitcast<u32>(x - y); }
        case MUL: { return bitcast<u32>(x * y); }
        case DIV: { return bitcast<u32>(x / y); }
        case POW: { return bitcast<u32>(powf(x, y)); }
        case MAXIMUM: { return bitcast<u32>(select(y, x, is_nan(x) || x > y)); }
        case MINIMUM: { return bitcast<u32>(select(y, x, is_nan(x) || x < y)); }
        case FLOOR_DIV: { return bitcast<u32>(floor(x / y)); }
        case REMAINDER: { return bitcast<u32>(x - y * floor(x / y)); }
        case EQ: { return b2u(x == y); }
        case NE: { return b2u(!(x == y)); }
        case LT: { return b2u(x < y); }
        case LE: { return b2u(x <= y); }
        case GT: { return b2u(x > y); }
        case GE: { return b2u(x >= y); }
        default: { return bitcast<u32>(y); } // ASSIGN
    }
}

fn binary_i32(x: i32, y: i32) -> u32 {
    switch OP {
        case ADD: { return bitcast<u32>(x + y); }
        case SUB: { return bitcast<u32>(x - y); }
        case MUL: { return bitcast<u32>(x * y); }
        case POW: { return bitcast<u32>(ipow(x, y)); }
        case MAXIMUM: { return bitcast<u32>(max(x, y)); }
        case MINIMUM: { return bitcast<u32>(min(x, y)); }
        case FLOOR_DIV: {
            let q = x / y;
            return bitcast<u32>(select(q, q - 1, x % y != 0 && ((x < 0) != (y < 0))));
        }
        case REMAINDER: {
            let r = x % y;
            return bitcast<u32>(select(r, r + y, r != 0 && ((r < 0) != (y < 0))));
        }
        case EQ: { return b2u(x == y); }
        case NE: { return b2u(x != y); }
        case LT: { return b2u(x < y); }
        case LE: { return b2u(x <= y); }
        case GT: { return b2u(x > y); }
        case GE: { return b2u(x >= y); }
        default: { return bitcast<u32>(y); } // ASSIGN
    }
}

fn binary_bool(x: u32, y: u32) -> u32 {
    switch OP {
        case ADD, MAXIMUM, OR: { return x | y; }
        case MUL, MINIMUM, AND: { return x & y; }
        case XOR: { return x ^ y; }
        case EQ: { return b2u(x == y); }
        case NE: { return b2u(x != y); }
        case LT: { return b2u(x < y); }
        case LE: { return b2u(x <= y); }
        case GT: { return b2u(x > y); }
        case GE: { return b2u(x >= y); }
        default: { return y; } // ASSIGN
    }
}

fn apply(x: u32, y: u32) -> u32 {
    if (T == F32) { return binary_f32(bitcast<f32>(x), bitcast<f32>(y)); }
    if (T == I32) { return binary_i32(bitcast<i32>(x), bitcast<i32>(y)); }
    return binary_bool(x, y);
}

@group(0) @binding(1) var<storage, read> a: array<u32>;
@group(0) @binding(2) var<storage, read> b: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<u32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = workgroup_index(wid, nwg) * WG + li;
    if (i >= walk.count) { return; }
    let off = walk.offsets + unravel(walk.base + i, 0u, walk.ndim);
    out[off.x] = apply(a[off.y], b[off.z]);
}

@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;

@compute @workgroup_size(256)
fn inplace(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = workgroup_index(wid, nwg) * WG + li;
    if (i >= walk.count) { return; }
    let off = walk.offsets + unravel(walk.base + i, 0u, walk.ndim);
    dst[off.x] = apply(dst[off.x], src[off.y]);
}
