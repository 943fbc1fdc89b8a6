//! The elementwise op table: one row per op, and everything about the op in its row.
//!
//! The rows are tokens handed to a callback macro; each layer expands the columns it owns, so
//! nothing below is written twice:
//! - `kinds` (the leaf vocabulary): the `UnaryKind` / `BinaryKind` enums, names, dtype class,
//!   parameters, the CPU math (`cpu`, `int`: closures over `T: Real` / `i64`, parameters bound
//!   as `T`), GPU op codes and the generated WGSL library (`wgsl`, `wgsl_int`: expressions in
//!   `x` (and `y`) and the parameters), and the formula text `viz` and the tests read
//!   (`_core._op_table()`);
//! - `ops`: what the op saves and its vjp (`vjp`: closures over `V: Arith`, implemented by
//!   `Tensor` and by plain numbers, parameters bound as `f64`), so the tensor engine and the
//!   scalar backward path run one formula;
//! - `python`: the `backprop._core` function (and `Tensor` method) with its defaults, and the
//!   `Tensor` methods `python/tensor_ops.rs` binds for the `bound` rows without parameters.
//!
//! Every row starts with its doc comment (required: a row without one does not compile). It is
//! the docstring of the row's Python bindings (`bp.X`, `Tensor.X`, `nn.functional.X`;
//! `_core._op_table()` lists it as `doc`) and the rustdoc of its kind: first
//! `name(args) -> Tensor: what it computes`, in PyTorch's terms and argument names, then the
//! dtype rule and the gradient. Notes for readers of this crate go in `//` comments.
//!
//! Columns of a unary row, in order:
//!   `Kind { param = default, ... } "name" class saves api inplace`
//!   (a parameter `param = value => None` has Python's default None, which reaches the kernel
//!   as `value`: logit's `eps`);
//!   class: `float` (ints are promoted to float32), `num` (int64 too: an `int` kernel),
//!          `pred` (float -> bool), `logic` (bool -> bool, int64 bitwise);
//!   saves: `input` or `output` (what the vjp's `s` is);
//!   api: `method` (`bp.X` and `Tensor.X`), `function` (`bp.nn.functional.X`), `bound` (the
//!        binding is written by hand: parameters it parses), `internal` (none);
//!   inplace: the name of the in-place form (`exp_`: `Tensor.exp_` and `_core.exp_`, or only
//!        `_core.X_` for `function` rows, for `nn.functional`), or `_` where PyTorch has none
//!        or its binding is written by hand (`ops::inplace` runs them all);
//!   `numpy(forward, local derivative[, vjp])`: NumPy templates in `{a}` (the input), `{out}`,
//!   `{g}` (the upstream gradient) and `{param}`; the vjp defaults to `{g} * (local)`.
//! A binary row (`Kind "name" class api inplace saves(..)`; class `arith`, `float`, `compare`,
//! `logic`, `bits` or `integer`: int64 only, the shifts) has `cpu(|x, y| ..)`, a vjp with one
//! expression per input, reading the saved operands through `a()?`, `b()?` and `out()?`, and
//! `saves(a: when, b: when, out: when)`
//! (`never`, `always`, or `for_a` / `for_b`: only when that input needs a gradient).

#[doc(hidden)]
#[macro_export]
macro_rules! unary_table {
    ($then:ident) => {
        $then! {
            /// neg(input) -> Tensor: -input, elementwise.
            ///
            /// Integer input keeps its dtype (int64 wraps); bool is refused. d/dx = -1.
            Neg {} "neg" num input bound neg_
                cpu(|x| -x) int(|x| x.wrapping_neg()) wgsl("-x") wgsl_int("-x")
                vjp(|g, _s| g.neg())
                numpy("-{a}", "-1.0", "-{g}");
            /// abs(input) -> Tensor: the absolute value of each element.
            ///
            /// Integer input keeps its dtype. d/dx = sign(x) (0 at 0).
            Abs {} "abs" num input bound abs_
                cpu(|x| x.abs()) int(|x| x.wrapping_abs()) wgsl("abs(x)") wgsl_int("abs(x)")
                vjp(|g, s| g.mul(&s.un(UnaryKind::Sign)?))
                numpy("np.abs({a})", "np.sign({a})");
            /// sign(input) -> Tensor: -1, 0 or 1 by the sign of each element (0 for +-0 and for NaN).
            ///
            /// Integer input keeps its dtype. The gradient is 0.
            Sign {} "sign" num input bound sign_
                // (x > 0) - (x < 0), as PyTorch: 0 for +-0 and for NaN.
                cpu(|x| if x > T::ZERO { T::ONE } else if x < T::ZERO { -T::ONE } else { T::ZERO })
                int(|x| x.signum()) wgsl("select(select(0.0, -1.0, x < 0.0), 1.0, x > 0.0)") wgsl_int("sign(x)")
                vjp(|g, _s| g.mul(&g.num(0.0)?))
                numpy("np.sign({a})", "0.0", "{g} * 0.0");
            /// exp(input) -> Tensor: e to the power of each element.
            ///
            /// Integer and bool input gives float32. d/dx = exp(x).
            Exp {} "exp" float output bound exp_
                cpu(|x| x.exp()) int() wgsl("exp(x)") wgsl_int()
                vjp(|g, y| g.mul(y))
                numpy("np.exp({a})", "{out}");
            /// log(input) -> Tensor: the natural logarithm (-inf at 0, NaN below).
            ///
            /// Integer and bool input gives float32. d/dx = 1 / x.
            Log {} "log" float input bound log_
                cpu(|x| x.ln()) int() wgsl("log(x)") wgsl_int()
                vjp(|g, x| g.div(x))
                numpy("np.log({a})", "1 / {a}", "{g} / {a}");
            /// sqrt(input) -> Tensor: the square root (NaN below 0).
            ///
            /// Integer and bool input gives float32. d/dx = 1 / (2 sqrt(x)).
            Sqrt {} "sqrt" float output bound sqrt_
                cpu(|x| x.sqrt()) int() wgsl("sqrt(x)") wgsl_int()
                vjp(|g, y| g.div(&y.mul(&y.num(2.0)?)?))
                numpy("np.sqrt({a})", "1 / (2 * {out})", "{g} / (2 * {out})");
            /// rsqrt(input) -> Tensor: the reciprocal of the square root, 1 / sqrt(input).
            ///
            /// Integer and bool input gives float32. d/dx = -rsqrt(x)^3 / 2.
            Rsqrt {} "rsqrt" float output bound rsqrt_
                cpu(|x| T::ONE / x.sqrt()) int() wgsl("1.0 / sqrt(x)") wgsl_int()
                vjp(|g, y| g.mul(&y.bin(BinaryKind::Pow, &y.num(3.0)?)?.mul(&y.num(-0.5)?)?))
                numpy("1 / np.sqrt({a})", "-0.5 * {out} ** 3", "{g} * -0.5 * {out} ** 3");
            /// reciprocal(input) -> Tensor: 1 / input.
            ///
            /// Integer and bool input gives float32. d/dx = -1 / x^2.
            Reciprocal {} "reciprocal" float output bound reciprocal_
                cpu(|x| T::ONE / x) int() wgsl("1.0 / x") wgsl_int()
                vjp(|g, y| g.mul(&y.mul(y)?.neg()?))
                numpy("1 / {a}", "-{out} ** 2", "-{g} * {out} ** 2");
            /// sin(input) -> Tensor: the sine of each element (in radians).
            ///
            /// Integer and bool input gives float32. d/dx = cos(x).
            Sin {} "sin" float input bound sin_
                cpu(|x| x.sin()) int() wgsl("sin(x)") wgsl_int()
                vjp(|g, x| g.mul(&x.un(UnaryKind::Cos)?))
                numpy("np.sin({a})", "np.cos({a})");
            /// cos(input) -> Tensor: the cosine of each element (in radians).
            ///
            /// Integer and bool input gives float32. d/dx = -sin(x).
            Cos {} "cos" float input bound cos_
                cpu(|x| x.cos()) int() wgsl("cos(x)") wgsl_int()
                vjp(|g, x| g.mul(&x.un(UnaryKind::Sin)?.neg()?))
                numpy("np.cos({a})", "-np.sin({a})", "-{g} * np.sin({a})");
            /// tan(input) -> Tensor: the tangent of each element (in radians).
            ///
            /// Integer and bool input gives float32. d/dx = 1 + tan(x)^2.
            Tan {} "tan" float output method tan_
                cpu(|x| x.tan()) int() wgsl("tan(x)") wgsl_int()
                vjp(|g, y| g.mul(&y.mul(y)?.add(&y.num(1.0)?)?))
                numpy("np.tan({a})", "1 + {out} ** 2");
            /// asin(input) -> Tensor: the arcsine, in [-pi/2, pi/2] (NaN outside [-1, 1]).
            ///
            /// Integer and bool input gives float32. d/dx = 1 / sqrt(1 - x^2).
            Asin {} "asin" float input method asin_
                cpu(|x| x.asin()) int() wgsl("asin_precise(x)") wgsl_int()
                vjp(|g, x| g.div(&x.num(1.0)?.sub(&x.mul(x)?)?.un(UnaryKind::Sqrt)?))
                numpy("np.arcsin({a})", "1 / np.sqrt(1 - {a} ** 2)");
            /// acos(input) -> Tensor: the arccosine, in [0, pi] (NaN outside [-1, 1]).
            ///
            /// Integer and bool input gives float32. d/dx = -1 / sqrt(1 - x^2).
            Acos {} "acos" float input method acos_
                cpu(|x| x.acos()) int() wgsl("acos_precise(x)") wgsl_int()
                vjp(|g, x| g.div(&x.num(1.0)?.sub(&x.mul(x)?)?.un(UnaryKind::Sqrt)?)?.neg())
                numpy("np.arccos({a})", "-1 / np.sqrt(1 - {a} ** 2)");
            /// atan(input) -> Tensor: the arctangent, in (-pi/2, pi/2).
            ///
            /// Integer and bool input gives float32. d/dx = 1 / (1 + x^2).
            Atan {} "atan" float input method atan_
                cpu(|x| x.atan()) int() wgsl("atan_precise(x)") wgsl_int()
                vjp(|g, x| g.div(&x.mul(x)?.add(&x.num(1.0)?)?))
                numpy("np.arctan({a})", "1 / (1 + {a} ** 2)");
            /// sinh(input) -> Tensor: the hyperbolic sine.
            ///
            /// Integer and bool input gives float32. d/dx = cosh(x).
            Sinh {} "sinh" float input method sinh_
                cpu(|x| x.sinh()) int() wgsl("sinh_precise(x)") wgsl_int()
                vjp(|g, x| g.mul(&x.un(UnaryKind::Cosh)?))
                numpy("np.sinh({a})", "np.cosh({a})");
            /// cosh(input) -> Tensor: the hyperbolic cosine.
            ///
            /// Integer and bool input gives float32. d/dx = sinh(x).
            Cosh {} "cosh" float input method cosh_
                cpu(|x| x.cosh()) int() wgsl("cosh(x)") wgsl_int()
                vjp(|g, x| g.mul(&x.un(UnaryKind::Sinh)?))
                numpy("np.cosh({a})", "np.sinh({a})");
            /// asinh(input) -> Tensor: the inverse hyperbolic sine.
            ///
            /// Integer and bool input gives float32. d/dx = 1 / sqrt(x^2 + 1).
            Asinh {} "asinh" float input method asinh_
                cpu(|x| x.asinh()) int() wgsl("asinh_stable(x)") wgsl_int()
                vjp(|g, x| g.div(&x.mul(x)?.add(&x.num(1.0)?)?.un(UnaryKind::Sqrt)?))
                numpy("np.arcsinh({a})", "1 / np.sqrt({a} ** 2 + 1)");
            /// atanh(input) -> Tensor: the inverse hyperbolic tangent (+-inf at +-1, NaN outside [-1, 1]).
            ///
            /// Integer and bool input gives float32. d/dx = 1 / (1 - x^2).
            Atanh {} "atanh" float input method atanh_
                cpu(|x| x.atanh()) int() wgsl("atanh_stable(x)") wgsl_int()
                vjp(|g, x| g.div(&x.num(1.0)?.sub(&x.mul(x)?)?))
                numpy("np.arctanh({a})", "1 / (1 - {a} ** 2)");
            /// tanh(input) -> Tensor: the hyperbolic tangent.
            ///
            /// Integer and bool input gives float32. d/dx = 1 - tanh(x)^2.
            Tanh {} "tanh" float output bound tanh_
                cpu(|x| x.tanh()) int() wgsl("tanh_safe(x)") wgsl_int()
                vjp(|g, y| g.mul(&y.num(1.0)?.sub(&y.mul(y)?)?))
                numpy("np.tanh({a})", "1 - {out} ** 2");
            /// log1p(input) -> Tensor: the natural logarithm of 1 + input, accurate for small input.
            ///
            /// Integer and bool input gives float32. d/dx = 1 / (1 + x).
            Log1p {} "log1p" float input method log1p_
                cpu(|x| x.ln_1p()) int() wgsl("log1p(x)") wgsl_int()
                vjp(|g, x| g.div(&x.add(&x.num(1.0)?)?))
                numpy("np.log1p({a})", "1 / (1 + {a})", "{g} / (1 + {a})");
            /// expm1(input) -> Tensor: exp(input) - 1, accurate for small input.
            ///
            /// Integer and bool input gives float32. d/dx = exp(x).
            Expm1 {} "expm1" float output method expm1_
                cpu(|x| x.exp_m1()) int() wgsl("expm1(x)") wgsl_int()
                vjp(|g, y| g.mul(&y.add(&y.num(1.0)?)?))
                numpy("np.expm1({a})", "{out} + 1");
            /// log2(input) -> Tensor: the base-2 logarithm.
            ///
            /// Integer and bool input gives float32. d/dx = 1 / (x ln 2).
            Log2 {} "log2" float input method log2_
                cpu(|x| x.log2()) int() wgsl("log2(x)") wgsl_int()
                vjp(|g, x| g.div(&x.mul(&x.num(std::f64::consts::LN_2)?)?))
                numpy("np.log2({a})", "1 / ({a} * np.log(2))", "{g} / ({a} * np.log(2))");
            /// log10(input) -> Tensor: the base-10 logarithm.
            ///
            /// Integer and bool input gives float32. d/dx = 1 / (x ln 10).
            Log10 {} "log10" float input method log10_
                cpu(|x| x.log10()) int() wgsl("log(x) * 0.43429448190325182") wgsl_int()
                vjp(|g, x| g.div(&x.mul(&x.num(std::f64::consts::LN_10)?)?))
                numpy("np.log10({a})", "1 / ({a} * np.log(10))", "{g} / ({a} * np.log(10))");
            /// erf(input) -> Tensor: the error function, 2 / sqrt(pi) * integral of exp(-t^2) from 0 to
            /// input.
            ///
            /// Integer and bool input gives float32. d/dx = 2 / sqrt(pi) exp(-x^2).
            Erf {} "erf" float input method erf_
                cpu(|x| x.erf()) int() wgsl("erf(x)") wgsl_int()
                vjp(|g, x| g.mul(&x.mul(x)?.neg()?.un(UnaryKind::Exp)?.mul(&x.num(std::f64::consts::FRAC_2_SQRT_PI)?)?))
                numpy("erf({a})", "2 / np.sqrt(np.pi) * np.exp(-{a} ** 2)");
            /// square(input) -> Tensor: input * input.
            ///
            /// Integer input keeps its dtype (int64 wraps). d/dx = 2 x.
            Square {} "square" num input method square_
                cpu(|x| x * x) int(|x| x.wrapping_mul(x)) wgsl("x * x") wgsl_int("x * x")
                vjp(|g, x| g.mul(&x.mul(&x.num(2.0)?)?))
                numpy("np.square({a})", "2 * {a}");
            /// floor(input) -> Tensor: the largest integer <= each element.
            ///
            /// Integer input is returned unchanged. The gradient is 0.
            Floor {} "floor" num input method floor_
                cpu(|x| x.floor()) int(|x| x) wgsl("floor(x)") wgsl_int("x")
                vjp(|g, _s| g.zeros())
                numpy("np.floor({a})", "0.0", "np.zeros_like({g})");
            /// ceil(input) -> Tensor: the smallest integer >= each element.
            ///
            /// Integer input is returned unchanged. The gradient is 0.
            Ceil {} "ceil" num input method ceil_
                cpu(|x| x.ceil()) int(|x| x) wgsl("ceil(x)") wgsl_int("x")
                vjp(|g, _s| g.zeros())
                numpy("np.ceil({a})", "0.0", "np.zeros_like({g})");
            /// round(input) -> Tensor: each element rounded to the nearest integer, halves to even
            /// (as PyTorch).
            ///
            /// No `decimals` argument. Integer input is returned unchanged. The gradient is 0.
            ///
            /// Example:
            ///     >>> bp.round(bp.tensor([0.5, 1.5, 2.5])).tolist()
            ///     [0.0, 2.0, 2.0]
            Round {} "round" num input method round_
                cpu(|x| x.round_ties_even()) int(|x| x) wgsl("round(x)") wgsl_int("x")
                vjp(|g, _s| g.zeros())
                numpy("np.round({a})", "0.0", "np.zeros_like({g})");
            /// trunc(input) -> Tensor: each element rounded toward zero.
            ///
            /// Integer input is returned unchanged. The gradient is 0.
            Trunc {} "trunc" num input method trunc_
                cpu(|x| x.trunc()) int(|x| x) wgsl("trunc(x)") wgsl_int("x")
                vjp(|g, _s| g.zeros())
                numpy("np.trunc({a})", "0.0", "np.zeros_like({g})");
            /// frac(input) -> Tensor: the fractional part, input - trunc(input) (it keeps input's sign).
            ///
            /// Integer and bool input gives float32. d/dx = 1.
            Frac {} "frac" float input method frac_
                cpu(|x| x - x.trunc()) int() wgsl("x - trunc(x)") wgsl_int()
                vjp(|g, _s| Ok(g.clone()))
                numpy("{a} - np.trunc({a})", "1.0", "{g}");
            /// acosh(input) -> Tensor: the inverse hyperbolic cosine (NaN below 1).
            ///
            /// Integer and bool input gives float32. d/dx = 1 / sqrt(x^2 - 1).
            Acosh {} "acosh" float input method acosh_
                cpu(|x| x.acosh()) int() wgsl("acosh(x)") wgsl_int()
                vjp(|g, x| g.div(&x.mul(x)?.sub(&x.num(1.0)?)?.un(UnaryKind::Sqrt)?))
                numpy("np.arccosh({a})", "1 / np.sqrt({a} ** 2 - 1)");
            /// erfc(input) -> Tensor: the complementary error function, 1 - erf(input), accurate where erf is
            /// near 1.
            ///
            /// Integer and bool input gives float32. d/dx = -2 / sqrt(pi) exp(-x^2).
            Erfc {} "erfc" float input method erfc_
                cpu(|x| x.erfc()) int() wgsl("erfc(x)") wgsl_int()
                vjp(|g, x| g.mul(&x.mul(x)?.neg()?.un(UnaryKind::Exp)?.mul(&x.num(-std::f64::consts::FRAC_2_SQRT_PI)?)?))
                numpy("1 - erf({a})", "-2 / np.sqrt(np.pi) * np.exp(-{a} ** 2)");
            /// erfinv(input) -> Tensor: the inverse of erf on (-1, 1): +-inf at +-1, NaN outside.
            ///
            /// Integer and bool input gives float32. d/dx = sqrt(pi) / 2 exp(erfinv(x)^2).
            Erfinv {} "erfinv" float output method erfinv_
                cpu(|x| x.erfinv()) int() wgsl("erfinv(x)") wgsl_int()
                // d/dx erfinv(x) = sqrt(pi) / 2 * exp(erfinv(x)^2)
                vjp(|g, y| g.mul(&y.mul(y)?.un(UnaryKind::Exp)?.mul(&y.num(0.886_226_925_452_758)?)?))
                numpy("erfinv({a})", "np.sqrt(np.pi) / 2 * np.exp({out} ** 2)");
            /// exp2(input) -> Tensor: 2 to the power of each element.
            ///
            /// Integer and bool input gives float32. d/dx = 2^x ln 2.
            Exp2 {} "exp2" float output method exp2_
                cpu(|x| x.exp2()) int() wgsl("exp2(x)") wgsl_int()
                vjp(|g, y| g.mul(&y.mul(&y.num(std::f64::consts::LN_2)?)?))
                numpy("np.exp2({a})", "{out} * np.log(2)");
            /// deg2rad(input) -> Tensor: angles in degrees converted to radians, input * pi / 180.
            ///
            /// Integer and bool input gives float32. d/dx = pi / 180.
            Deg2rad {} "deg2rad" float input method deg2rad_
                cpu(|x| x * T::from_f64c(std::f64::consts::PI / 180.0)) int() wgsl("x * 0.017453292519943295") wgsl_int()
                vjp(|g, _s| g.mul(&g.num(std::f64::consts::PI / 180.0)?))
                numpy("np.deg2rad({a})", "np.pi / 180");
            /// rad2deg(input) -> Tensor: angles in radians converted to degrees, input * 180 / pi.
            ///
            /// Integer and bool input gives float32. d/dx = 180 / pi.
            Rad2deg {} "rad2deg" float input method rad2deg_
                cpu(|x| x * T::from_f64c(180.0 / std::f64::consts::PI)) int() wgsl("x * 57.29577951308232") wgsl_int()
                vjp(|g, _s| g.mul(&g.num(180.0 / std::f64::consts::PI)?))
                numpy("np.rad2deg({a})", "180 / np.pi");
            /// sinc(input) -> Tensor: the normalized sinc, sin(pi x) / (pi x), and 1 at 0
            /// (as PyTorch and NumPy).
            ///
            /// Integer and bool input gives float32. d/dx = (cos(pi x) - sinc(x)) / x, 0 at 0.
            Sinc {} "sinc" float input method sinc_
                cpu(|x| if x == T::ZERO { T::ONE } else { let px = x * T::from_f64c(std::f64::consts::PI); px.sin() / px }) int()
                wgsl("sinc(x)") wgsl_int()
                // (cos(pi x) - sinc(x)) / x; near 0, where that difference cancels, its series
                // pi (-t/3 + t^3/30 - t^5/840) in t = pi x (0 at 0)
                vjp(|g, x| {
                    let t = x.mul(&x.num(std::f64::consts::PI)?)?;
                    let d = t.un(UnaryKind::Cos)?.sub(&x.un(UnaryKind::Sinc)?)?.div(x)?;
                    let t2 = t.mul(&t)?;
                    let inner = t2.num(1.0 / 30.0)?.sub(&t2.mul(&t2.num(1.0 / 840.0)?)?)?;
                    let series = t.mul(&t2.mul(&inner)?.sub(&t2.num(1.0 / 3.0)?)?)?.mul(&t.num(std::f64::consts::PI)?)?;
                    let near = t.un(UnaryKind::Abs)?.test(BinaryKind::Lt, &t.num(0.3)?)?;
                    g.mul(&V::pick(&near, &series, &d)?)
                })
                numpy("np.sinc({a})", "(np.cos(np.pi * {a}) - np.sinc({a})) / {a}");
            /// logit(input, eps=None) -> Tensor: log(input / (1 - input)), input first clamped to
            /// [eps, 1 - eps] when eps is given.
            ///
            /// Integer and bool input gives float32. d/dx = 1 / (x (1 - x)), and 0 outside [eps, 1 - eps]
            /// (as PyTorch).
            Logit { eps = -1.0 => None } "logit" float input method logit_
                // Python's eps=None reaches the kernel as -1: any eps < 0 means no clamp
                cpu(|x| {
                    let z = if eps < T::ZERO { x } else { x.hardtanh(eps, T::ONE - eps) };
                    (z / (T::ONE - z)).ln()
                }) int()
                wgsl("logit(x, eps)") wgsl_int()
                // 0 outside [eps, 1 - eps] (the bounds themselves inside), as PyTorch
                vjp(|g, x| {
                    let d = g.div(&x.mul(&x.num(1.0)?.sub(x)?)?)?;
                    if eps < 0.0 {
                        return Ok(d);
                    }
                    let z = g.num(0.0)?;
                    V::pick(&x.test(BinaryKind::Lt, &x.num(eps)?)?, &z, &V::pick(&x.test(BinaryKind::Gt, &x.num(1.0 - eps)?)?, &z, &d)?)
                })
                numpy(
                    "(np.log(np.clip({a}, {eps}, 1 - {eps}) / (1 - np.clip({a}, {eps}, 1 - {eps}))) if {eps} >= 0 else np.log({a} / (1 - {a})))",
                    "np.where(({eps} >= 0) & (({a} < {eps}) | ({a} > 1 - {eps})), 0.0, 1 / ({a} * (1 - {a})))"
                );
            /// sgn(input) -> Tensor: sign(input) for real tensors (PyTorch's complex-aware name for it).
            ///
            /// Integer input keeps its dtype. The gradient is 0.
            Sgn {} "sgn" num input method sgn_
                cpu(|x| if x > T::ZERO { T::ONE } else if x < T::ZERO { -T::ONE } else { T::ZERO })
                int(|x| x.signum()) wgsl("select(select(0.0, -1.0, x < 0.0), 1.0, x > 0.0)") wgsl_int("sign(x)")
                vjp(|g, _s| g.mul(&g.num(0.0)?))
                numpy("np.sign({a})", "0.0", "{g} * 0.0");
            /// sigmoid(input) -> Tensor: the logistic function, 1 / (1 + exp(-input)).
            ///
            /// Integer and bool input gives float32. d/dx = sigmoid(x) (1 - sigmoid(x)).
            Sigmoid {} "sigmoid" float output bound sigmoid_
                cpu(|x| x.sigmoid()) int() wgsl("sigmoid(x)") wgsl_int()
                // sigma' = sigma (1 - sigma), from the output alone
                vjp(|g, y| g.mul(&y.mul(&y.num(1.0)?.sub(y)?)?))
                numpy("sigmoid({a})", "(1 - {out}) * {out}");
            /// logsigmoid(input) -> Tensor: log(sigmoid(input)), without overflow for large |input|.
            ///
            /// Integer and bool input gives float32. d/dx = sigmoid(-x).
            Logsigmoid {} "logsigmoid" float input function _
                // log sigma(x) = min(x, 0) - log1p(exp(-|x|)): no overflow either way
                cpu(|x| x.min(T::ZERO) - (-x.abs()).exp().ln_1p()) int()
                wgsl("min(x, 0.0) - log1p(exp(-abs(x)))") wgsl_int()
                vjp(|g, x| g.mul(&x.neg()?.un(UnaryKind::Sigmoid)?))
                numpy("np.minimum({a}, 0) - np.log1p(np.exp(-np.abs({a})))", "sigmoid(-{a})");
            /// softplus(input, beta=1.0, threshold=20.0) -> Tensor: log(1 + exp(beta * input)) / beta, and
            /// input itself where beta * input > threshold.
            ///
            /// Integer and bool input gives float32. d/dx = sigmoid(beta x), and 1 in the linear part.
            Softplus { beta = 1.0, threshold = 20.0 } "softplus" float input function _
                cpu(|x| if x * beta > threshold { x } else { (x * beta).exp().ln_1p() / beta }) int()
                wgsl("select(log1p(exp(x * beta)) / beta, x, x * beta > threshold)") wgsl_int()
                vjp(|g, x| {
                    let bx = x.mul(&x.num(beta)?)?;
                    let linear = bx.test(BinaryKind::Gt, &bx.num(threshold)?)?;
                    V::pick(&linear, g, &g.mul(&bx.un(UnaryKind::Sigmoid)?)?)
                })
                numpy(
                    "np.where({a} * {beta} > {threshold}, {a}, np.log1p(np.exp({a} * {beta})) / {beta})",
                    "np.where({a} * {beta} > {threshold}, 1.0, sigmoid({a} * {beta}))"
                );
            /// relu(input) -> Tensor: max(input, 0), elementwise (NaN stays NaN).
            ///
            /// Integer input keeps its dtype. d/dx = 1 where x > 0, else 0 (0 at 0).
            Relu {} "relu" num output bound relu_
                cpu(|x| if x > T::ZERO || x.is_nan() { x } else { T::ZERO }) int(|x| x.max(0))
                wgsl("select(0.0, x, x > 0.0 || is_nan(x))") wgsl_int("max(x, 0)")
                vjp(|g, y| g.bin(BinaryKind::ReluBackward, y))
                numpy("np.maximum({a}, 0.0)", "1.0 * ({a} > 0)", "{g} * ({a} > 0)");
            /// relu6(input) -> Tensor: min(max(input, 0), 6).
            ///
            /// Integer and bool input gives float32. d/dx = 1 on (0, 6), else 0.
            Relu6 {} "relu6" float input function _
                cpu(|x| x.hardtanh(T::ZERO, T::from_f64c(6.0))) int()
                wgsl("hardtanh(x, 0.0, 6.0)") wgsl_int()
                vjp(|g, x| x.inside_open(0.0, 6.0, g))
                numpy("np.clip({a}, 0.0, 6.0)", "1.0 * ((0.0 < {a}) & ({a} < 6.0))");
            /// hardtanh(input, min_val=-1.0, max_val=1.0) -> Tensor: input clamped to [min_val, max_val].
            ///
            /// Integer and bool input gives float32. d/dx = 1 strictly between the bounds, else 0. In place:
            /// `hardtanh_`.
            Hardtanh { min_val = -1.0, max_val = 1.0 } "hardtanh" float input function hardtanh_
                cpu(|x| x.hardtanh(min_val, max_val)) int()
                wgsl("hardtanh(x, min_val, max_val)") wgsl_int()
                vjp(|g, x| x.inside_open(min_val, max_val, g))
                numpy("np.clip({a}, {min_val}, {max_val})", "1.0 * (({min_val} < {a}) & ({a} < {max_val}))");
            /// hardsigmoid(input) -> Tensor: relu6(input + 3) / 6, a piecewise-linear sigmoid.
            ///
            /// Integer and bool input gives float32. d/dx = 1/6 on (-3, 3), else 0.
            Hardsigmoid {} "hardsigmoid" float input function _
                cpu(|x| (x + T::from_f64c(3.0)).hardtanh(T::ZERO, T::from_f64c(6.0)) / T::from_f64c(6.0)) int()
                wgsl("hardtanh(x + 3.0, 0.0, 6.0) / 6.0") wgsl_int()
                vjp(|g, x| x.inside_open(-3.0, 3.0, &g.mul(&g.num(1.0 / 6.0)?)?))
                numpy("np.clip({a} + 3, 0, 6) / 6", "((-3 < {a}) & ({a} < 3)) / 6");
            /// hardswish(input) -> Tensor: input * relu6(input + 3) / 6.
            ///
            /// Integer and bool input gives float32. d/dx = 0 up to -3, x / 3 + 1/2 on (-3, 3), 1 from 3 on
            /// (PyTorch's values at the kinks).
            Hardswish {} "hardswish" float input function _
                cpu(|x| x * (x + T::from_f64c(3.0)).hardtanh(T::ZERO, T::from_f64c(6.0)) / T::from_f64c(6.0)) int()
                wgsl("x * hardtanh(x + 3.0, 0.0, 6.0) / 6.0") wgsl_int()
                vjp(|g, x| {
                    // 0 up to -3, x / 3 + 1/2 up to 3 (exclusive), 1 beyond: PyTorch's convention
                    let ramp = g.mul(&x.div(&x.num(3.0)?)?.add(&x.num(0.5)?)?)?;
                    let below = x.test(BinaryKind::Le, &x.num(-3.0)?)?;
                    let middle = x.test(BinaryKind::Lt, &x.num(3.0)?)?;
                    V::pick(&below, &g.num(0.0)?, &V::pick(&middle, &ramp, g)?)
                })
                numpy(
                    "{a} * np.clip({a} + 3, 0, 6) / 6",
                    "np.where({a} <= -3, 0.0, np.where({a} < 3, {a} / 3 + 0.5, 1.0))"
                );
            /// softsign(input) -> Tensor: input / (1 + |input|).
            ///
            /// Integer and bool input gives float32. d/dx = 1 / (1 + |x|)^2.
            Softsign {} "softsign" float input function _
                cpu(|x| x / (T::ONE + x.abs())) int() wgsl("x / (1.0 + abs(x))") wgsl_int()
                vjp(|g, x| {
                    let d = x.un(UnaryKind::Abs)?.add(&x.num(1.0)?)?;
                    g.div(&d.mul(&d)?)
                })
                numpy("{a} / (1 + np.abs({a}))", "1 / (1 + np.abs({a})) ** 2");
            /// silu(input) -> Tensor: input * sigmoid(input) (also called swish).
            ///
            /// Integer and bool input gives float32. d/dx = s (1 + x (1 - s)) with s = sigmoid(x).
            Silu {} "silu" float input function _
                cpu(|x| x * x.sigmoid()) int() wgsl("x * sigmoid(x)") wgsl_int()
                vjp(|g, x| {
                    let s = x.un(UnaryKind::Sigmoid)?;
                    g.mul(&s.mul(&x.mul(&s.num(1.0)?.sub(&s)?)?.add(&s.num(1.0)?)?)?)
                })
                numpy("{a} * sigmoid({a})", "sigmoid({a}) * (1 + {a} * (1 - sigmoid({a})))");
            /// mish(input) -> Tensor: input * tanh(softplus(input)).
            ///
            /// Integer and bool input gives float32. d/dx = t + x sigmoid(x) (1 - t^2) with t =
            /// tanh(softplus(x)).
            Mish {} "mish" float input function _
                cpu(|x| x * (if x > T::from_f64c(20.0) { x } else { x.exp().ln_1p() }).tanh()) int()
                wgsl("x * tanh_safe(select(log1p(exp(x)), x, x > 20.0))") wgsl_int()
                vjp(|g, x| {
                    let t = x.un(UnaryKind::Softplus { beta: 1.0, threshold: 20.0 })?.un(UnaryKind::Tanh)?;
                    let s = x.un(UnaryKind::Sigmoid)?;
                    g.mul(&t.add(&x.mul(&s)?.mul(&t.num(1.0)?.sub(&t.mul(&t)?)?)?)?)
                })
                numpy(
                    "{a} * np.tanh(np.log1p(np.exp({a})))",
                    "np.tanh(np.log1p(np.exp({a}))) + {a} * sigmoid({a}) * (1 - np.tanh(np.log1p(np.exp({a}))) ** 2)"
                );
            /// leaky_relu(input, negative_slope=0.01) -> Tensor: input where positive, negative_slope * input
            /// elsewhere.
            ///
            /// Integer and bool input gives float32. d/dx = 1 where x > 0, else negative_slope.
            LeakyRelu { negative_slope = 0.01 } "leaky_relu" float input method leaky_relu_
                cpu(|x| if x > T::ZERO { x } else { x * negative_slope }) int()
                wgsl("select(x * negative_slope, x, x > 0.0)") wgsl_int()
                vjp(|g, x| V::pick(&x.test(BinaryKind::Gt, &x.num(0.0)?)?, g, &g.mul(&g.num(negative_slope)?)?))
                numpy(
                    "np.where({a} > 0, {a}, {negative_slope} * {a})",
                    "np.where({a} > 0, 1.0, {negative_slope})",
                    "np.where({a} > 0, {g}, {negative_slope} * {g})"
                );
            /// elu(input, alpha=1.0) -> Tensor: input where positive, alpha * (exp(input) - 1) elsewhere.
            ///
            /// Integer and bool input gives float32. d/dx = 1 where x > 0, else elu(x) + alpha.
            Elu { alpha = 1.0 } "elu" float output method elu_
                cpu(|x| if x > T::ZERO { x } else { alpha * x.exp_m1() }) int()
                wgsl("select(alpha * expm1(x), x, x > 0.0)") wgsl_int()
                vjp(|g, y| V::pick(&y.test(BinaryKind::Gt, &y.num(0.0)?)?, g, &g.mul(&y.add(&y.num(alpha)?)?)?))
                numpy(
                    "np.where({a} > 0, {a}, {alpha} * np.expm1({a}))",
                    "np.where({out} > 0, 1.0, {out} + {alpha})",
                    "np.where({out} > 0, {g}, {g} * ({out} + {alpha}))"
                );
            /// celu(input, alpha=1.0) -> Tensor: input where positive, alpha * (exp(input / alpha) - 1)
            /// elsewhere.
            ///
            /// Integer and bool input gives float32. d/dx = 1 where x > 0, else exp(x / alpha). In place:
            /// `celu_`.
            Celu { alpha = 1.0 } "celu" float input function celu_
                cpu(|x| if x > T::ZERO { x } else { alpha * (x / alpha).exp_m1() }) int()
                wgsl("select(alpha * expm1(x / alpha), x, x > 0.0)") wgsl_int()
                vjp(|g, x| V::pick(&x.test(BinaryKind::Gt, &x.num(0.0)?)?, g, &g.mul(&x.div(&x.num(alpha)?)?.un(UnaryKind::Exp)?)?))
                numpy(
                    "np.where({a} > 0, {a}, {alpha} * np.expm1({a} / {alpha}))",
                    "np.where({a} > 0, 1.0, np.exp({a} / {alpha}))"
                );
            /// selu(input) -> Tensor: scale * elu(input, alpha), scale = 1.0507009873554805 and alpha =
            /// 1.6732632423543772.
            ///
            /// Integer and bool input gives float32. d/dx = scale where x > 0, else scale alpha exp(x). In
            /// place: `selu_`.
            Selu {} "selu" float input function selu_
                cpu(|x| T::from_f64c(SELU_SCALE) * (if x > T::ZERO { x } else { T::from_f64c(SELU_ALPHA) * x.exp_m1() })) int()
                wgsl("1.0507009873554805 * select(1.6732632423543772 * expm1(x), x, x > 0.0)") wgsl_int()
                vjp(|g, x| {
                    let negative = g.mul(&x.un(UnaryKind::Exp)?.mul(&x.num(SELU_SCALE * SELU_ALPHA)?)?)?;
                    V::pick(&x.test(BinaryKind::Gt, &x.num(0.0)?)?, &g.mul(&g.num(SELU_SCALE)?)?, &negative)
                })
                numpy(
                    "1.0507009873554805 * np.where({a} > 0, {a}, 1.6732632423543772 * np.expm1({a}))",
                    "np.where({a} > 0, 1.0507009873554805, 1.7580993408473766 * np.exp({a}))"
                );
            /// gelu(input) -> Tensor: input * Phi(input), Phi the standard normal CDF (the exact, erf form).
            ///
            /// Integer and bool input gives float32. d/dx = Phi(x) + x phi(x).
            /// `nn.functional.gelu(input, approximate="tanh")` is the tanh approximation.
            Gelu {} "gelu" float input bound _
                cpu(|x| T::from_f64c(0.5) * x * (T::ONE + (x * T::from_f64c(std::f64::consts::FRAC_1_SQRT_2)).erf())) int()
                wgsl("0.5 * x * (1.0 + erf(x * 0.70710678118654752))") wgsl_int()
                vjp(|g, x| g.mul(&x.un(UnaryKind::GeluGrad)?))
                numpy("gelu({a})", "gelu_grad({a})");
            /// d/dx gelu(x) = Phi(x) + x phi(x), used by gelu's backward.
            GeluGrad {} "gelu_backward" float input internal _
                cpu(|x| {
                    let h = T::from_f64c(0.5);
                    h * (T::ONE + (x * T::from_f64c(std::f64::consts::FRAC_1_SQRT_2)).erf())
                        + x * T::from_f64c(1.0 / (2.0 * std::f64::consts::PI).sqrt()) * (-(h * x * x)).exp()
                }) int()
                wgsl("0.5 * (1.0 + erf(x * 0.70710678118654752)) + x * 0.39894228040143268 * exp(-0.5 * x * x)") wgsl_int()
                vjp(|g, x| {
                    // gelu''(x) = phi(x) (2 - x^2)
                    let x2 = x.mul(x)?;
                    let phi = x2.mul(&x2.num(-0.5)?)?.un(UnaryKind::Exp)?.mul(&x2.num(1.0 / (2.0 * std::f64::consts::PI).sqrt())?)?;
                    g.mul(&phi.mul(&x2.num(2.0)?.sub(&x2)?)?)
                })
                numpy("gelu_grad({a})", "np.exp(-0.5 * {a} ** 2) / np.sqrt(2 * np.pi) * (2 - {a} ** 2)");
            /// gelu(x, approximate="tanh"): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
            GeluTanh {} "gelu_tanh" float input internal _
                cpu(|x| {
                    let inner = T::from_f64c(GELU_K) * (x + T::from_f64c(0.044715) * x * x * x);
                    T::from_f64c(0.5) * x * (T::ONE + inner.tanh())
                }) int()
                wgsl("0.5 * x * (1.0 + tanh_safe(0.7978845608028654 * (x + 0.044715 * x * x * x)))") wgsl_int()
                vjp(|g, x| {
                    let x2 = x.mul(x)?;
                    let inner = x.mul(&x2.mul(&x.num(0.044715)?)?.add(&x.num(1.0)?)?)?.mul(&x.num(GELU_K)?)?;
                    let t = inner.un(UnaryKind::Tanh)?;
                    let dinner = x2.mul(&x.num(3.0 * 0.044715)?)?.add(&x.num(1.0)?)?.mul(&x.num(GELU_K)?)?;
                    let sech2 = t.num(1.0)?.sub(&t.mul(&t)?)?;
                    let local = t.add(&t.num(1.0)?)?.add(&x.mul(&sech2)?.mul(&dinner)?)?.mul(&x.num(0.5)?)?;
                    g.mul(&local)
                })
                numpy(
                    "0.5 * {a} * (1 + np.tanh(0.7978845608028654 * ({a} + 0.044715 * {a} ** 3)))",
                    "0.5 * (1 + np.tanh(0.7978845608028654 * ({a} + 0.044715 * {a} ** 3))) + 0.5 * {a} * (1 - np.tanh(0.7978845608028654 * ({a} + 0.044715 * {a} ** 3)) ** 2) * 0.7978845608028654 * (1 + 0.134145 * {a} ** 2)"
                );
            /// x ** p for a constant p (`input ** 2`): d/dx = p x^(p - 1), and 0 for p = 0.
            PowScalar { exponent = 2.0 } "pow" num input internal _
                cpu(|x| x.pow_scalar(exponent)) int(|x| x.wrapping_pow(exponent as u32))
                wgsl("pow_scalar(x, exponent)") wgsl_int("ipow(x, exponent)")
                vjp(|g, x| {
                    if exponent == 0.0 {
                        return g.zeros(); // d/dx x**0 is 0 everywhere, 0 ** -1 included
                    }
                    g.mul(&x.num(exponent)?.mul(&x.un(UnaryKind::PowScalar { exponent: exponent - 1.0 })?)?)
                })
                numpy("{a} ** {exponent}", "{exponent} * {a} ** ({exponent} - 1)");
            /// clamp(input, min, max): missing bounds are infinite; a NaN bound makes every element NaN
            /// (PyTorch).
            Clamp { min = f64::NEG_INFINITY, max = f64::INFINITY } "clamp" num input internal _
                cpu(|x| x.clamp_keep_nan(min, max)) int(|x| x.max(min.ceil() as i64).min(max.floor() as i64))
                wgsl("clamp_keep_nan(x, min, max)") wgsl_int("clamp_int(x, min, max)")
                // Strictly inside the bounds, as PyTorch: the gradient is 0 at a bound itself.
                vjp(|g, x| {
                    let inside = x.test(BinaryKind::Gt, &x.num(min)?)?;
                    V::pick(&V::both(&inside, &x.test(BinaryKind::Lt, &x.num(max)?)?)?, g, &g.num(0.0)?)
                })
                numpy("np.clip({a}, {min}, {max})", "1.0 * (({a} > {min}) & ({a} < {max}))");
            /// logical_not(input) -> Tensor: True where input is False, for bool tensors.
            ///
            /// Other dtypes raise a DTypeError (`input == 0` is the same test for them). The result has no
            /// gradient.
            Not {} "logical_not" logic input bound logical_not_
                cpu(|x| !x) int() wgsl("1u - x") wgsl_int()
                vjp(|_g, _s| Err(no_gradient("logical_not")))
                numpy("np.logical_not({a})", "0.0");
            /// bitwise_not(input) -> Tensor: ~input: the bits inverted for integer tensors, logical NOT for
            /// bool ones.
            ///
            /// Float tensors raise a TypeError. The result has no gradient.
            BitwiseNot {} "bitwise_not" logic input method bitwise_not_
                cpu(|x| !x) int(|x| !x) wgsl("1u - x") wgsl_int("~x")
                vjp(|_g, _s| Err(no_gradient("bitwise_not")))
                numpy("np.invert({a})", "0.0");
            /// isnan(input) -> Tensor: a bool tensor, True where input is NaN.
            ///
            /// Integer and bool input is never NaN. The result has no gradient.
            IsNan {} "isnan" pred input bound _
                cpu(|x| x.is_nan()) int(|_x| false) wgsl("is_nan(x)") wgsl_int("false")
                vjp(|_g, _s| Err(no_gradient("isnan")))
                numpy("np.isnan({a})", "0.0");
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! binary_table {
    ($then:ident) => {
        $then! {
            /// add(input, other) -> Tensor: input + other, broadcast.
            ///
            /// Computes in the promoted dtype of the operands (integers stay integer); d/dinput = 1, d/dother
            /// = 1.
            Add "add" arith bound _ saves(a: never, b: never, out: never)
                cpu(|x, y| x + y) int(|x, y| x.wrapping_add(y)) wgsl("x + y") wgsl_int("x + y")
                // add distributes
                vjp(|g, a, b, out| Ok(g.clone()), Ok(g.clone()))
                numpy("{a} + {b}", "1.0", "1.0", "{g}", "{g}");
            /// sub(input, other) -> Tensor: input - other, broadcast.
            ///
            /// Computes in the promoted dtype of the operands (integers stay integer); d/dinput = 1, d/dother
            /// = -1.
            Sub "sub" arith bound _ saves(a: never, b: never, out: never)
                cpu(|x, y| x - y) int(|x, y| x.wrapping_sub(y)) wgsl("x - y") wgsl_int("x - y")
                vjp(|g, a, b, out| Ok(g.clone()), g.neg())
                numpy("{a} - {b}", "1.0", "-1.0", "{g}", "-{g}");
            /// mul(input, other) -> Tensor: input * other, broadcast; other may be a number.
            ///
            /// Computes in the promoted dtype of the operands (integers stay integer); int64 wraps. d/dinput
            /// = other, d/dother = input.
            Mul "mul" arith bound _ saves(a: for_b, b: for_a, out: never)
                cpu(|x, y| x * y) int(|x, y| x.wrapping_mul(y)) wgsl("x * y") wgsl_int("x * y")
                // mul swaps: each input's gradient is the upstream gradient times the other input.
                vjp(|g, a, b, out| g.mul(b()?), g.mul(a()?))
                numpy("{a} * {b}", "{b}", "{a}", "{g} * {b}", "{g} * {a}");
            /// div(input, other) -> Tensor: input / other, true division, broadcast.
            ///
            /// Integer and bool operands give float32. d/dinput = 1 / other, d/dother = -input / other^2.
            Div "div" float bound _ saves(a: for_b, b: always, out: never)
                cpu(|x, y| x / y) int() wgsl("x / y") wgsl_int()
                vjp(|g, a, b, out| g.div(b()?), g.mul(a()?)?.div(&b()?.mul(b()?)?)?.neg())
                numpy("{a} / {b}", "1 / {b}", "-{a} / {b} ** 2", "{g} / {b}", "-{g} * {a} / {b} ** 2");
            /// pow(input, other) -> Tensor: input ** other, broadcast; other (PyTorch's `exponent`) may be a
            /// number.
            ///
            /// Computes in the promoted dtype of the operands (integers stay integer); an integer to a
            /// negative integer power is 0 here. d/dinput = other * input^(other - 1) (0 where other == 0),
            /// d/dother = out * ln(input) (0 where input == 0 and other >= 0).
            Pow "pow" arith bound _ saves(a: always, b: always, out: for_b)
                cpu(|x, y| x.powf(y)) int(|x, y| if y < 0 { 0 } else { x.wrapping_pow(y.min(u32::MAX as i64) as u32) })
                wgsl("powf(x, y)") wgsl_int("ipow(x, y)")
                vjp(|g, a, b, out| {
                    let (a, b) = (a()?, b()?);
                    let local = b.mul(&a.bin(BinaryKind::Pow, &b.sub(&b.num(1.0)?)?)?)?;
                    // 0 ** 0 has derivative 0 in the base direction, not 0 * inf.
                    let zero_exp = b.test(BinaryKind::Eq, &b.num(0.0)?)?;
                    g.mul(&V::pick(&zero_exp, &local.num(0.0)?, &local)?)
                }, {
                    let a = a()?;
                    let local = out()?.mul(&a.un(UnaryKind::Log)?)?;
                    // d/db a**b at a == 0 with b >= 0 is 0 (PyTorch's convention).
                    let b = b()?;
                    let mask = V::both(&a.test(BinaryKind::Eq, &a.num(0.0)?)?, &b.test(BinaryKind::Ge, &b.num(0.0)?)?)?;
                    g.mul(&V::pick(&mask, &local.num(0.0)?, &local)?)
                })
                numpy("{a} ** {b}", "{b} * {a} ** ({b} - 1)", "{out} * np.log({a})",
                      "{g} * {b} * {a} ** ({b} - 1)", "{g} * {out} * np.log({a})");
            /// atan2(input, other) -> Tensor: the angle of the point (other, input), atan(input / other) in
            /// the right quadrant, in [-pi, pi].
            ///
            /// Integer and bool operands give float32; other may be a number. d/dinput = other /
            /// (input^2 + other^2), d/dother = -input / (input^2 + other^2).
            Atan2 "atan2" float method atan2_ saves(a: always, b: always, out: never)
                cpu(|x, y| x.atan2(y)) int() wgsl("atan2_precise(x, y)") wgsl_int()
                vjp(|g, a, b, out| {
                    let (a, b) = (a()?, b()?);
                    g.mul(&b.div(&a.mul(a)?.add(&b.mul(b)?)?)?)
                }, {
                    let (a, b) = (a()?, b()?);
                    g.mul(&a.div(&a.mul(a)?.add(&b.mul(b)?)?)?.neg()?)
                })
                numpy("np.arctan2({a}, {b})", "{b} / ({a} ** 2 + {b} ** 2)", "-{a} / ({a} ** 2 + {b} ** 2)",
                      "{g} * {b} / ({a} ** 2 + {b} ** 2)", "-{g} * {a} / ({a} ** 2 + {b} ** 2)");
            // max routes the gradient to the larger input; ties split it evenly.
            /// maximum(input, other) -> Tensor: the larger of input and other, elementwise
            /// (a NaN in either wins).
            ///
            /// Computes in the promoted dtype of the operands (integers stay integer); the gradient goes to
            /// the larger operand; ties split it evenly.
            Maximum "maximum" arith bound _ saves(a: always, b: always, out: never)
                cpu(|x, y| if x.is_nan() || x > y { x } else { y }) int(|x, y| x.max(y))
                wgsl("select(y, x, is_nan(x) || x > y)") wgsl_int("max(x, y)")
                vjp(|g, a, b, out| route(g, a()?, b()?, BinaryKind::Gt), route(g, b()?, a()?, BinaryKind::Gt))
                numpy("np.maximum({a}, {b})", "({a} > {b}) + 0.5 * ({a} == {b})", "({b} > {a}) + 0.5 * ({a} == {b})",
                      "{g} * (({a} > {b}) + 0.5 * ({a} == {b}))", "{g} * (({b} > {a}) + 0.5 * ({a} == {b}))");
            /// minimum(input, other) -> Tensor: the smaller of input and other, elementwise
            /// (a NaN in either wins).
            ///
            /// Computes in the promoted dtype of the operands (integers stay integer); the gradient goes to
            /// the smaller operand; ties split it evenly.
            Minimum "minimum" arith bound _ saves(a: always, b: always, out: never)
                cpu(|x, y| if x.is_nan() || x < y { x } else { y }) int(|x, y| x.min(y))
                wgsl("select(y, x, is_nan(x) || x < y)") wgsl_int("min(x, y)")
                vjp(|g, a, b, out| route(g, a()?, b()?, BinaryKind::Lt), route(g, b()?, a()?, BinaryKind::Lt))
                numpy("np.minimum({a}, {b})", "({a} < {b}) + 0.5 * ({a} == {b})", "({b} < {a}) + 0.5 * ({a} == {b})",
                      "{g} * (({a} < {b}) + 0.5 * ({a} == {b}))", "{g} * (({b} < {a}) + 0.5 * ({a} == {b}))");
            /// floor_divide(input, other) -> Tensor: input // other, the quotient rounded toward -inf
            /// (Python's `//`).
            ///
            /// Computes in the promoted dtype of the operands (integers stay integer); int64 wraps
            /// (`-2**63 // -1` is `-2**63`, as PyTorch) and an integer division by zero raises
            /// ZeroDivisionError. Not differentiable: backward through it raises.
            ///
            /// Example:
            ///     >>> bp.floor_divide(bp.tensor([-7, 7]), 2).tolist()
            ///     [-4, 3]
            FloorDiv "floor_divide" arith bound floor_divide_ saves(a: never, b: never, out: never)
                cpu(|x, y| x.floor_div(y)) int(|x, y| floor_div_i64(x, y)) wgsl("floor_div(x, y)") wgsl_int("floor_div_i32(x, y)")
                vjp(|g, a, b, out| Err(no_gradient("floor_divide")), Err(no_gradient("floor_divide")))
                numpy("np.floor_divide({a}, {b})", "0.0", "0.0", "0.0 * {g}", "0.0 * {g}");
            /// remainder(input, other) -> Tensor: Python's input % other: the result takes the sign of other.
            ///
            /// Computes in the promoted dtype of the operands (integers stay integer); `remainder(-5.0, inf)`
            /// is inf (as PyTorch); an integer division by zero raises ZeroDivisionError. d/dinput = 1,
            /// d/dother = -floor(input / other).
            ///
            /// Example:
            ///     >>> bp.remainder(bp.tensor([-7, 7]), 3).tolist()
            ///     [2, 1]
            Remainder "remainder" arith bound remainder_ saves(a: always, b: always, out: never)
                cpu(|x, y| x.python_mod(y)) int(|x, y| python_mod_i64(x, y)) wgsl("python_mod(x, y)") wgsl_int("python_mod_i32(x, y)")
                vjp(|g, a, b, out| Ok(g.clone()), g.mul(&a()?.bin(BinaryKind::FloorDiv, b()?)?)?.neg())
                numpy("np.remainder({a}, {b})", "1.0", "-np.floor_divide({a}, {b})", "{g}", "-{g} * np.floor_divide({a}, {b})");
            /// fmod(input, other) -> Tensor: C's fmod, the remainder of input / other with the sign of input.
            ///
            /// Computes in the promoted dtype of the operands (integers stay integer); an integer division by
            /// zero raises ZeroDivisionError. d/dinput = 1, d/dother = -trunc(input / other).
            ///
            /// Example:
            ///     >>> bp.fmod(bp.tensor([-7, 7]), 3).tolist()
            ///     [-1, 1]
            Fmod "fmod" arith method fmod_ saves(a: always, b: always, out: never)
                cpu(|x, y| x % y) int(|x, y| x.wrapping_rem(y)) wgsl("fmod(x, y)") wgsl_int("fmod_i32(x, y)")
                vjp(|g, a, b, out| Ok(g.clone()), g.mul(&a()?.div(b()?)?.un(UnaryKind::Trunc)?)?.neg())
                numpy("np.fmod({a}, {b})", "1.0", "-np.trunc({a} / {b})", "{g}", "-{g} * np.trunc({a} / {b})");
            /// hypot(input, other) -> Tensor: sqrt(input^2 + other^2) without overflow; an infinite operand
            /// wins over NaN (C's hypot).
            ///
            /// Integer and bool operands give float32; d/dinput = input / out, d/dother = other / out.
            Hypot "hypot" float method hypot_ saves(a: always, b: always, out: always)
                cpu(|x, y| x.hypot(y)) int() wgsl("hypot_f32(x, y)") wgsl_int()
                vjp(|g, a, b, out| g.mul(&a()?.div(out()?)?), g.mul(&b()?.div(out()?)?))
                numpy("np.hypot({a}, {b})", "{a} / {out}", "{b} / {out}");
            /// logaddexp(input, other) -> Tensor: log(exp(input) + exp(other)), without overflow.
            ///
            /// Integer and bool operands give float32; d/dinput = sigmoid(input - other), d/dother =
            /// sigmoid(other - input).
            Logaddexp "logaddexp" float method _ saves(a: always, b: always, out: never)
                cpu(|x, y| x.logaddexp(y)) int() wgsl("logaddexp_f32(x, y)") wgsl_int()
                vjp(|g, a, b, out| g.mul(&a()?.sub(b()?)?.un(UnaryKind::Sigmoid)?), g.mul(&b()?.sub(a()?)?.un(UnaryKind::Sigmoid)?))
                numpy("np.logaddexp({a}, {b})", "sigmoid({a} - {b})", "sigmoid({b} - {a})");
            /// logaddexp2(input, other) -> Tensor: log2(2^input + 2^other), without overflow.
            ///
            /// Integer and bool operands give float32; d/dinput = sigmoid((input - other) ln 2), d/dother =
            /// sigmoid((other - input) ln 2).
            Logaddexp2 "logaddexp2" float method _ saves(a: always, b: always, out: never)
                cpu(|x, y| x.logaddexp2(y)) int() wgsl("logaddexp2_f32(x, y)") wgsl_int()
                vjp(|g, a, b, out| {
                    let d = a()?.sub(b()?)?;
                    g.mul(&d.mul(&d.num(std::f64::consts::LN_2)?)?.un(UnaryKind::Sigmoid)?)
                }, {
                    let d = b()?.sub(a()?)?;
                    g.mul(&d.mul(&d.num(std::f64::consts::LN_2)?)?.un(UnaryKind::Sigmoid)?)
                })
                numpy("np.logaddexp2({a}, {b})", "sigmoid(({a} - {b}) * np.log(2))", "sigmoid(({b} - {a}) * np.log(2))");
            /// xlogy(input, other) -> Tensor: input * log(other), and 0 where input == 0 unless other is NaN.
            ///
            /// Integer and bool operands give float32; d/dinput = log(other) (0 where input == 0 and other <=
            /// 0), d/dother = input / other.
            Xlogy "xlogy" float method xlogy_ saves(a: always, b: always, out: never)
                cpu(|x, y| if y.is_nan() { y } else if x == T::ZERO { T::ZERO } else { x * y.ln() }) int()
                wgsl("xlogy_f32(x, y)") wgsl_int()
                // PyTorch: xlogy(g, b), masked to 0 where a == 0 and b <= 0
                vjp(|g, a, b, out| {
                    let (a, b) = (a()?, b()?);
                    let at_zero = V::both(&a.test(BinaryKind::Eq, &a.num(0.0)?)?, &b.test(BinaryKind::Le, &b.num(0.0)?)?)?;
                    V::pick(&at_zero, &g.num(0.0)?, &g.bin(BinaryKind::Xlogy, b)?)
                }, g.mul(a()?)?.div(b()?))
                numpy("{a} * np.log({b})", "np.log({b})", "{a} / {b}");
            /// copysign(input, other) -> Tensor: |input| with the sign (bit) of other, so -0.0 counts as
            /// negative.
            ///
            /// Integer and bool operands give float32; d/dinput = 1 where the signs agree, -1 where they
            /// differ, 0 where input == 0; d/dother = 0.
            Copysign "copysign" float method copysign_ saves(a: for_a, b: never, out: for_a)
                cpu(|x, y| x.copysign(y)) int() wgsl("copysign_f32(x, y)") wgsl_int()
                // out / a, and 0 where a == 0 (PyTorch)
                vjp(|g, a, b, out| {
                    let a = a()?;
                    V::pick(&a.test(BinaryKind::Eq, &a.num(0.0)?)?, &g.num(0.0)?, &g.mul(&out()?.div(a)?)?)
                }, g.zeros())
                numpy("np.copysign({a}, {b})", "np.copysign(1.0, {a}) * np.copysign(1.0, {b})", "0.0");
            /// fmax(input, other) -> Tensor: the larger of input and other, ignoring NaN: NaN only where both
            /// are.
            ///
            /// Computes in the promoted dtype of the operands (integers stay integer); the gradient goes to
            /// the larger (non-NaN) operand; ties split it evenly.
            Fmax "fmax" arith method _ saves(a: always, b: always, out: never)
                cpu(|x, y| if x.is_nan() || y > x { y } else { x }) int(|x, y| x.max(y))
                wgsl("select(x, y, is_nan(x) || y > x)") wgsl_int("max(x, y)")
                vjp(|g, a, b, out| nan_route(g, a()?, b()?, BinaryKind::Gt, true), nan_route(g, b()?, a()?, BinaryKind::Gt, false))
                numpy("np.fmax({a}, {b})", "({a} > {b}) + 0.5 * ({a} == {b})", "({b} > {a}) + 0.5 * ({a} == {b})",
                      "{g} * (({a} > {b}) + 0.5 * ({a} == {b}))", "{g} * (({b} > {a}) + 0.5 * ({a} == {b}))");
            /// fmin(input, other) -> Tensor: the smaller of input and other, ignoring NaN: NaN only where
            /// both are.
            ///
            /// Computes in the promoted dtype of the operands (integers stay integer); the gradient goes to
            /// the smaller (non-NaN) operand; ties split it evenly.
            Fmin "fmin" arith method _ saves(a: always, b: always, out: never)
                cpu(|x, y| if x.is_nan() || y < x { y } else { x }) int(|x, y| x.min(y))
                wgsl("select(x, y, is_nan(x) || y < x)") wgsl_int("min(x, y)")
                vjp(|g, a, b, out| nan_route(g, a()?, b()?, BinaryKind::Lt, true), nan_route(g, b()?, a()?, BinaryKind::Lt, false))
                numpy("np.fmin({a}, {b})", "({a} < {b}) + 0.5 * ({a} == {b})", "({b} < {a}) + 0.5 * ({a} == {b})",
                      "{g} * (({a} < {b}) + 0.5 * ({a} == {b}))", "{g} * (({b} < {a}) + 0.5 * ({a} == {b}))");
            /// nextafter(input, other) -> Tensor: the next representable float after input in the direction
            /// of other.
            ///
            /// Integer and bool operands give float32; d/dinput = 1, d/dother = 0 (as PyTorch).
            Nextafter "nextafter" float method nextafter_ saves(a: never, b: never, out: never)
                cpu(|x, y| x.next_after(y)) int() wgsl("nextafter_f32(x, y)") wgsl_int()
                vjp(|g, a, b, out| Ok(g.clone()), g.zeros())
                numpy("np.nextafter({a}, {b})", "1.0", "0.0", "{g}", "0.0 * {g}");
            /// div(rounding_mode="trunc"): the quotient rounded toward zero (int64 stays int64).
            DivTrunc "div_trunc" arith internal _ saves(a: never, b: never, out: never)
                cpu(|x, y| (x / y).trunc()) int(|x, y| x.wrapping_div(y)) wgsl("trunc(x / y)") wgsl_int("x / y")
                // zero almost everywhere, as PyTorch's (unlike floor_divide, which refuses)
                vjp(|g, a, b, out| g.zeros(), g.zeros())
                numpy("np.trunc({a} / {b})", "0.0", "0.0", "0.0 * {g}", "0.0 * {g}");
            /// div(rounding_mode="floor"): floor_divide's values with a zero gradient.
            DivFloor "div_floor" arith internal _ saves(a: never, b: never, out: never)
                cpu(|x, y| x.floor_div(y)) int(|x, y| floor_div_i64(x, y)) wgsl("floor_div(x, y)") wgsl_int("floor_div_i32(x, y)")
                vjp(|g, a, b, out| g.zeros(), g.zeros())
                numpy("np.floor_divide({a}, {b})", "0.0", "0.0", "0.0 * {g}", "0.0 * {g}");
            /// relu's vjp in one pass: the gradient `x` where relu's output `y` is positive, else 0
            /// (a comparison and a `where` were two passes and a bool tensor between them).
            ReluBackward "relu_backward" float internal _ saves(a: never, b: always, out: never)
                cpu(|x, y| if y > T::ZERO { x } else { T::ZERO }) int() wgsl("select(0.0, x, y > 0.0)") wgsl_int()
                vjp(|g, a, b, out| g.bin(BinaryKind::ReluBackward, b()?), g.zeros())
                numpy("np.where({b} > 0, {a}, 0.0)", "1.0 * ({b} > 0)", "0.0", "{g} * ({b} > 0)", "0.0 * {g}");
            /// eq(input, other) -> Tensor: a bool tensor, True where input == other (broadcast).
            ///
            /// Compares in the operands' promoted dtype; other may be a number. The result has no gradient.
            Eq "eq" compare bound eq_ saves(a: never, b: never, out: never)
                cpu(|x, y| x == y) int(|x, y| x == y) wgsl("x == y") wgsl_int("x == y")
                vjp(|g, a, b, out| Err(no_gradient("eq")), Err(no_gradient("eq")))
                numpy("{a} == {b}", "0.0", "0.0");
            /// ne(input, other) -> Tensor: a bool tensor, True where input != other (broadcast).
            ///
            /// Compares in the operands' promoted dtype; other may be a number. The result has no gradient.
            Ne "ne" compare bound ne_ saves(a: never, b: never, out: never)
                cpu(|x, y| x != y) int(|x, y| x != y) wgsl("!(x == y)") wgsl_int("x != y")
                vjp(|g, a, b, out| Err(no_gradient("ne")), Err(no_gradient("ne")))
                numpy("{a} != {b}", "0.0", "0.0");
            /// lt(input, other) -> Tensor: a bool tensor, True where input < other (broadcast).
            ///
            /// Compares in the operands' promoted dtype; other may be a number. The result has no gradient.
            Lt "lt" compare bound lt_ saves(a: never, b: never, out: never)
                cpu(|x, y| x < y) int(|x, y| x < y) wgsl("x < y") wgsl_int("x < y")
                vjp(|g, a, b, out| Err(no_gradient("lt")), Err(no_gradient("lt")))
                numpy("{a} < {b}", "0.0", "0.0");
            /// le(input, other) -> Tensor: a bool tensor, True where input <= other (broadcast).
            ///
            /// Compares in the operands' promoted dtype; other may be a number. The result has no gradient.
            Le "le" compare bound le_ saves(a: never, b: never, out: never)
                cpu(|x, y| x <= y) int(|x, y| x <= y) wgsl("x <= y") wgsl_int("x <= y")
                vjp(|g, a, b, out| Err(no_gradient("le")), Err(no_gradient("le")))
                numpy("{a} <= {b}", "0.0", "0.0");
            /// gt(input, other) -> Tensor: a bool tensor, True where input > other (broadcast).
            ///
            /// Compares in the operands' promoted dtype; other may be a number. The result has no gradient.
            Gt "gt" compare bound gt_ saves(a: never, b: never, out: never)
                cpu(|x, y| x > y) int(|x, y| x > y) wgsl("x > y") wgsl_int("x > y")
                vjp(|g, a, b, out| Err(no_gradient("gt")), Err(no_gradient("gt")))
                numpy("{a} > {b}", "0.0", "0.0");
            /// ge(input, other) -> Tensor: a bool tensor, True where input >= other (broadcast).
            ///
            /// Compares in the operands' promoted dtype; other may be a number. The result has no gradient.
            Ge "ge" compare bound ge_ saves(a: never, b: never, out: never)
                cpu(|x, y| x >= y) int(|x, y| x >= y) wgsl("x >= y") wgsl_int("x >= y")
                vjp(|g, a, b, out| Err(no_gradient("ge")), Err(no_gradient("ge")))
                numpy("{a} >= {b}", "0.0", "0.0");
            /// logical_and(input, other) -> Tensor: a bool tensor, True where both input and other are true
            /// (non-zero).
            ///
            /// Reads any dtype as truth values (non-zero is True); other may be a number. The result has no
            /// gradient.
            And "logical_and" logic bound logical_and_ saves(a: never, b: never, out: never)
                cpu(|x, y| x & y) int() wgsl("x & y") wgsl_int()
                vjp(|g, a, b, out| Err(no_gradient("logical_and")), Err(no_gradient("logical_and")))
                numpy("np.logical_and({a}, {b})", "0.0", "0.0");
            /// logical_or(input, other) -> Tensor: a bool tensor, True where input or other is true
            /// (non-zero).
            ///
            /// Reads any dtype as truth values (non-zero is True); other may be a number. The result has no
            /// gradient.
            Or "logical_or" logic bound logical_or_ saves(a: never, b: never, out: never)
                cpu(|x, y| x | y) int() wgsl("x | y") wgsl_int()
                vjp(|g, a, b, out| Err(no_gradient("logical_or")), Err(no_gradient("logical_or")))
                numpy("np.logical_or({a}, {b})", "0.0", "0.0");
            /// logical_xor(input, other) -> Tensor: a bool tensor, True where exactly one of input and other
            /// is true (non-zero).
            ///
            /// Reads any dtype as truth values (non-zero is True); other may be a number. The result has no
            /// gradient.
            Xor "logical_xor" logic bound logical_xor_ saves(a: never, b: never, out: never)
                cpu(|x, y| x ^ y) int() wgsl("x ^ y") wgsl_int()
                vjp(|g, a, b, out| Err(no_gradient("logical_xor")), Err(no_gradient("logical_xor")))
                numpy("np.logical_xor({a}, {b})", "0.0", "0.0");
            /// bitwise_and(input, other) -> Tensor: input & other: bitwise AND of integer tensors, logical
            /// AND of bool ones.
            ///
            /// Float tensors raise a TypeError. The result has no gradient.
            BitAnd "bitwise_and" bits method bitwise_and_ saves(a: never, b: never, out: never)
                cpu(|x, y| x & y) int(|x, y| x & y) wgsl("x & y") wgsl_int("x & y")
                vjp(|g, a, b, out| Err(no_gradient("bitwise_and")), Err(no_gradient("bitwise_and")))
                numpy("np.bitwise_and({a}, {b})", "0.0", "0.0");
            /// bitwise_or(input, other) -> Tensor: input | other: bitwise OR of integer tensors, logical OR
            /// of bool ones.
            ///
            /// Float tensors raise a TypeError. The result has no gradient.
            BitOr "bitwise_or" bits method bitwise_or_ saves(a: never, b: never, out: never)
                cpu(|x, y| x | y) int(|x, y| x | y) wgsl("x | y") wgsl_int("x | y")
                vjp(|g, a, b, out| Err(no_gradient("bitwise_or")), Err(no_gradient("bitwise_or")))
                numpy("np.bitwise_or({a}, {b})", "0.0", "0.0");
            /// bitwise_xor(input, other) -> Tensor: input ^ other: bitwise XOR of integer tensors, logical
            /// XOR of bool ones.
            ///
            /// Float tensors raise a TypeError. The result has no gradient.
            BitXor "bitwise_xor" bits method bitwise_xor_ saves(a: never, b: never, out: never)
                cpu(|x, y| x ^ y) int(|x, y| x ^ y) wgsl("x ^ y") wgsl_int("x ^ y")
                vjp(|g, a, b, out| Err(no_gradient("bitwise_xor")), Err(no_gradient("bitwise_xor")))
                numpy("np.bitwise_xor({a}, {b})", "0.0", "0.0");
            /// bitwise_left_shift(input, other) -> Tensor: input << other, for integer tensors.
            ///
            /// A negative count, or one of 64 or more, gives 0 (as PyTorch). Float tensors raise a TypeError.
            /// The result has no gradient.
            // Integer rows have no float or bool form.
            Shl "bitwise_left_shift" integer method bitwise_left_shift_ saves(a: never, b: never, out: never)
                cpu(|x, y| x) int(|x, y| if (0..64).contains(&y) { x.wrapping_shl(y as u32) } else { 0 })
                wgsl("") wgsl_int("shl_i32(x, y)")
                vjp(|g, a, b, out| Err(no_gradient("bitwise_left_shift")), Err(no_gradient("bitwise_left_shift")))
                numpy("np.left_shift({a}, {b})", "0.0", "0.0");
            /// bitwise_right_shift(input, other) -> Tensor: input >> other, for integer tensors (arithmetic:
            /// the sign bit fills in).
            ///
            /// A negative count, or one of 64 or more, gives the sign fill: 0 or -1 (as PyTorch). Float
            /// tensors raise a TypeError. The result has no gradient.
            Shr "bitwise_right_shift" integer method bitwise_right_shift_ saves(a: never, b: never, out: never)
                cpu(|x, y| x) int(|x, y| x >> if (0..64).contains(&y) { y as u32 } else { 63 })
                wgsl("") wgsl_int("shr_i32(x, y)")
                vjp(|g, a, b, out| Err(no_gradient("bitwise_right_shift")), Err(no_gradient("bitwise_right_shift")))
                numpy("np.right_shift({a}, {b})", "0.0", "0.0");
        }
    };
}
