// Fused optimizer updates over one contiguous parameter: each thread reads its element of
// the parameter, gradient and state and writes the new parameter and state, in place of the
// ten-odd elementwise passes of the textbook formulas. The rules and the order of floating-
// point operations are those of the CPU kernels (`rust/cpu/optim/`, PyTorch's rules).
//
// Entry points differ in the state they bind, so each layout names only what it touches:
//   sgd (param, grad), sgd_momentum (+ momentum buffer),
//   adam (param, grad, exp_avg, exp_avg_sq), amsgrad (+ max_exp_avg_sq),
//   and the rules of `backend::Rule` below, each binding its state in the order Rule lists it.

struct Optim {
    // element offsets of param, grad, state a, state b within their bound windows
    offsets: vec4<u32>,
    // x: offset of state c (max_exp_avg_sq); y: elements in this launch
    extra: vec4<u32>,
    // SGD: (sign, lr, momentum, 1 - dampening), (weight_decay, -, -, -)
    // Adam: (sign, shrink, weight_decay, 1 - beta1), (beta2, 1 - beta2, eps, step_size),
    //       (1 / sqrt(1 - beta2^t), -, -, -)
    f0: vec4<f32>,
    f1: vec4<f32>,
    f2: vec4<f32>,
}

// SGD: DECAY adds weight_decay * p to the direction; MOMENTUM 0 none, 1 the buffer's first
// step (it becomes the direction), 2 a running buffer. Adam: L2 adds weight_decay * p to the
// gradient (Adam's coupled decay; AdamW's decoupled decay is the `shrink` factor).
override DECAY: bool = false;
override MOMENTUM: u32 = 0u;
override NESTEROV: bool = false;
override L2: bool = false;

@group(0) @binding(0) var<uniform> o: Optim;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> state_a: array<f32>;
@group(0) @binding(4) var<storage, read_write> state_b: array<f32>;
@group(0) @binding(5) var<storage, read_write> state_c: array<f32>;

const WG: u32 = 256u;

fn element(wid: vec3<u32>, nwg: vec3<u32>, li: u32) -> u32 {
    return (wid.x + wid.y * nwg.x) * WG + li;
}

fn sgd_direction(i: u32) -> f32 {
    var d = o.f0.x * grad[o.offsets.y + i];
    if (DECAY) {
        d = d + o.f1.x * param[o.offsets.x + i];
    }
    return d;
}

@compute @workgroup_size(256)
fn sgd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = element(wid, nwg, li);
    if (i >= o.extra.y) { return; }
    let d = sgd_direction(i);
    param[o.offsets.x + i] = param[o.offsets.x + i] - o.f0.y * d;
}

@compute @workgroup_size(256)
fn sgd_momentum(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = element(wid, nwg, li);
    if (i >= o.extra.y) { return; }
    var d = sgd_direction(i);
    let mu = o.f0.z;
    var b = d;
    if (MOMENTUM == 2u) {
        b = state_a[o.offsets.z + i] * mu + o.f0.w * d;
    }
    state_a[o.offsets.z + i] = b;
    if (NESTEROV) {
        d = d + mu * b;
    } else {
        d = b;
    }
    param[o.offsets.x + i] = param[o.offsets.x + i] - o.f0.y * d;
}

// The decayed parameter and the new moments; returns the parameter, writes the moments.
fn adam_moments(i: u32) -> vec3<f32> {
    let p = param[o.offsets.x + i];
    var g = o.f0.x * grad[o.offsets.y + i];
    if (L2) {
        g = g + o.f0.z * p;
    }
    let m0 = state_a[o.offsets.z + i];
    let m = m0 + o.f0.w * (g - m0);
    let v = state_b[o.offsets.w + i] * o.f1.x + o.f1.y * g * g;
    state_a[o.offsets.z + i] = m;
    state_b[o.offsets.w + i] = v;
    return vec3<f32>(p * o.f0.y, m, v);
}

fn adam_apply(p: f32, m: f32, second: f32) -> f32 {
    return p - o.f1.w * (m / (sqrt(second) * o.f2.x + o.f1.z));
}

@compute @workgroup_size(256)
fn adam(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = element(wid, nwg, li);
    if (i >= o.extra.y) { return; }
    let s = adam_moments(i);
    param[o.offsets.x + i] = adam_apply(s.x, s.y, s.z);
}

@compute @workgroup_size(256)
fn amsgrad(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = element(wid, nwg, li);
    if (i >= o.extra.y) { return; }
    let s = adam_moments(i);
    let old = state_c[o.extra.x + i];
    // torch.maximum: NaN propagates (NaN test on the bits, which compilers cannot fold away).
    var top = old;
    if (s.z > old || (bitcast<u32>(s.z) & 0x7fffffffu) > 0x7f800000u) {
        top = s.z;
    }
    state_c[o.extra.x + i] = top;
    param[o.offsets.x + i] = adam_apply(s.x, s.y, top);
}

// ---- the rules of `backend::Rule` (rust/cpu/optim/rules.rs is the reference) ------------
// f0.x is the gradient's sign (-1 when maximizing) and f0.y the coupled weight decay (added
// when L2); the rest of f0..f2 is per rule, as `rust/gpu/kernels/optim.rs` packs it.
// RMSprop binds square_avg, then grad_avg when centered, then the momentum buffer, so each
// combination has its own entry point naming only the state it binds.
override RECTIFIED: bool = false;
override AVERAGE: bool = false;

fn prepped_grad(i: u32) -> f32 {
    var g = o.f0.x * grad[o.offsets.y + i];
    if (L2) {
        g = g + o.f0.y * param[o.offsets.x + i];
    }
    return g;
}

fn is_nan(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
}

// torch.lerp: two formulas, each exact at its end of the interval.
fn lerp_w(a: f32, b: f32, w: f32) -> f32 {
    if (abs(w) < 0.5) {
        return a + w * (b - a);
    }
    return b - (b - a) * (1.0 - w);
}

// torch.sign: NaN gives 0.
fn sign_t(x: f32) -> f32 {
    if (x > 0.0) { return 1.0; }
    if (x < 0.0) { return -1.0; }
    return 0.0;
}

// RMSprop (f0.z alpha, f0.w 1 - alpha, f1.x eps, f1.y -lr, f1.z momentum): the new
// square_avg (state a), returned for the denominator.
fn rms_square_avg(i: u32, g: f32) -> f32 {
    let v = state_a[o.offsets.z + i] * o.f0.z + o.f0.w * g * g;
    state_a[o.offsets.z + i] = v;
    return v;
}

// Centered: the running mean of g (state b) comes off the second moment.
fn rms_centered(i: u32, v: f32, g: f32) -> f32 {
    let m = lerp_w(state_b[o.offsets.w + i], g, o.f0.w);
    state_b[o.offsets.w + i] = m;
    return v + -1.0 * m * m;
}

@compute @workgroup_size(256)
fn rmsprop(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = element(wid, nwg, li);
    if (i >= o.extra.y) { return; }
    let g = prepped_grad(i);
    let avg = sqrt(rms_square_avg(i, g)) + o.f1.x;
    param[o.offsets.x + i] = param[o.offsets.x + i] + o.f1.y * (g / avg);
}

@compute @workgroup_size(256)
fn rmsprop_centered(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = element(wid, nwg, li);
    if (i >= o.extra.y) { return; }
    let g = prepped_grad(i);
    let avg = sqrt(rms_centered(i, rms_square_avg(i, g), g)) + o.f1.x;
    param[o.offsets.x + i] = param[o.offsets.x + i] + o.f1.y * (g / avg);
}

// The momentum buffer is state b.
@compute @workgroup_size(256)
fn rmsprop_momentum(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = element(wid, nwg, li);
    if (i >= o.extra.y) { return; }
    let g = prepped_grad(i);
    let avg = sqrt(rms_square_avg(i, g)) + o.f1.x;
    let b = state_b[o.offsets.w + i] * o.f1.z + g / avg;
    state_b[o.offsets.w + i] = b;
    param[o.offsets.x + i] = param[o.offsets.x + i] + o.f1.y * b;
}

// The momentum buffer is state c.
@compute @workgroup_size(256)
fn rmsprop_centered_momentum(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = element(wid, nwg, li);
    if (i >= o.extra.y) { return; }
    let g = prepped_grad(i);
    let avg = sqrt(rms_centered(i, rms_square_avg(i, g), g)) + o.f1.x;
    let b = state_c[o.extra.x + i] * o.f1.z + g / avg;
    state_c[o.extra.x + i] = b;
    param[o.offsets.x + i] = param[o.offsets.x + i] + o.f1.y * b;
}

// Adagrad (f0.z -clr, f0.w eps); state a: sum.
@compute @workgroup_size(256)
fn adagrad(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = element(wid, nwg, li);
    if (i >= o.extra.y) { return; }
    let g = prepped_grad(i);
    let s = state_a[o.offsets.z + i] + g * g;
    state_a[o.offsets.z + i] = s;
    param[o.offsets.x + i] = param[o.offsets.x + i] + o.f0.z * (g / (sqrt(s) + o.f0.w));
}

// Adadelta (f0.z rho, f0.w 1 - rho, f1.x eps, f1.y -lr); states: square_avg, acc_delta.
@compute @workgroup_size(256)
fn adadelta(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = element(wid, nwg, li);
    if (i >= o.extra.y) { return; }
    let g = prepped_grad(i);
    let v = state_a[o.offsets.z + i] * o.f0.z + o.f0.w * g * g;
    state_a[o.offsets.z + i] = v;
    let u = state_b[o.offsets.w + i];
    let delta = sqrt(u + o.f1.x) / sqrt(v + o.f1.x) * g;
    state_b[o.offsets.w + i] = u * o.f0.z + o.f0.w * delta * delta;
    param[o.offsets.x + i] = param[o.offsets.x + i] + o.f1.y * delta;
}

// Adamax (f0.z -clr, f0.w 1 - beta1, f1.x beta2, f1.y eps); states: exp_avg, exp_inf.
@compute @workgroup_size(256)
fn adamax(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = element(wid, nwg, li);
    if (i >= o.extra.y) { return; }
    let g = prepped_grad(i);
    let m = lerp_w(state_a[o.offsets.z + i], g, o.f0.w);
    state_a[o.offsets.z + i] = m;
    let a = state_b[o.offsets.w + i] * o.f1.x;
    let b = abs(g) + o.f1.y;
    // torch.maximum: NaN propagates.
    var u = max(a, b);
    if (is_nan(a) || is_nan(b)) {
        u = a + b;
    }
    state_b[o.offsets.w + i] = u;
    param[o.offsets.x + i] = param[o.offsets.x + i] + o.f0.z * (m / u);
}

// Adam's moments for NAdam and RAdam (f0.w 1 - beta1, f1.x beta2, f1.y 1 - beta2).
fn nadam_moments(i: u32, g: f32) -> vec2<f32> {
    let m = lerp_w(state_a[o.offsets.z + i], g, o.f0.w);
    let v = state_b[o.offsets.w + i] * o.f1.x + o.f1.y * g * g;
    state_a[o.offsets.z + i] = m;
    state_b[o.offsets.w + i] = v;
    return vec2<f32>(m, v);
}

// NAdam (f0.z shrink, f1.z 1 - beta2^t, f1.w eps, f2.x -grad_step, f2.y -avg_step).
@compute @workgroup_size(256)
fn nadam(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = element(wid, nwg, li);
    if (i >= o.extra.y) { return; }
    let g = prepped_grad(i);
    let mv = nadam_moments(i, g);
    let denom = sqrt(mv.y / o.f1.z) + o.f1.w;
    let p = param[o.offsets.x + i] * o.f0.z + o.f2.x * (g / denom);
    param[o.offsets.x + i] = p + o.f2.y * (mv.x / denom);
}

// RAdam (f0.z shrink, f1.z eps, f1.w lr, f2.x 1 - beta1^t, f2.y sqrt(1 - beta2^t), f2.z rect).
@compute @workgroup_size(256)
fn radam(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = element(wid, nwg, li);
    if (i >= o.extra.y) { return; }
    let g = prepped_grad(i);
    let mv = nadam_moments(i, g);
    var delta = mv.x / o.f2.x * o.f1.w;
    if (RECTIFIED) {
        delta = delta * (o.f2.y / (sqrt(mv.y) + o.f1.z)) * o.f2.z;
    }
    param[o.offsets.x + i] = param[o.offsets.x + i] * o.f0.z - delta;
}

// ASGD (f0.z shrink, f0.w -eta, f1.x mu); state a: ax, the running average (a copy when !AVERAGE).
@compute @workgroup_size(256)
fn asgd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = element(wid, nwg, li);
    if (i >= o.extra.y) { return; }
    let g = prepped_grad(i);
    let p = param[o.offsets.x + i] * o.f0.z + o.f0.w * g;
    param[o.offsets.x + i] = p;
    if (AVERAGE) {
        let ax = state_a[o.offsets.z + i];
        state_a[o.offsets.z + i] = ax + (p - ax) * o.f1.x;
    } else {
        state_a[o.offsets.z + i] = p;
    }
}

// Rprop (f0.z eta_minus, f0.w eta_plus, f1.x step_min, f1.y step_max); states: prev, step_size.
@compute @workgroup_size(256)
fn rprop(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = element(wid, nwg, li);
    if (i >= o.extra.y) { return; }
    var g = prepped_grad(i);
    let s = sign_t(g * state_a[o.offsets.z + i]);
    var factor = 1.0;
    if (s > 0.0) { factor = o.f0.w; }
    if (s < 0.0) { factor = o.f0.z; }
    var size = state_b[o.offsets.w + i] * factor;
    if (!is_nan(size)) {
        size = min(max(size, o.f1.x), o.f1.y);
    }
    state_b[o.offsets.w + i] = size;
    if (factor == o.f0.z) {
        g = 0.0;
    }
    param[o.offsets.x + i] = param[o.offsets.x + i] + -1.0 * sign_t(g) * size;
    state_a[o.offsets.z + i] = g;
}
