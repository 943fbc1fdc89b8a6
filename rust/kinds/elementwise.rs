//! The elementwise kinds, generated from the op table (`ops/table.rs`): the enums, their
//! names and dtype classes, parameters, GPU op codes, and the CPU math as visitors that hand
//! each kind's function (monomorphised, loop-invariant dispatch) to a kernel.

use super::real::{floor_div_i64, python_mod_i64, Real};
use super::{GELU_K, SELU_ALPHA, SELU_SCALE};
use crate::error::{dtype_err, Error};
use crate::tensor::DType;
use smallvec::SmallVec;

/// Which dtypes an elementwise op takes, and what it returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// Float math; integer and bool inputs are promoted to float32.
    Float,
    /// Float, and int64 with its own kernel (the result keeps the input's dtype).
    Num,
    /// Float (and int64) -> bool.
    Pred,
    /// Bool -> bool (and int64 bitwise).
    Logic,
    /// Binary: arithmetic in the operands' promoted dtype (bool with or/and rules).
    Arith,
    /// Binary: comparisons, any dtype -> bool.
    Compare,
    /// Binary: int64 and bool bitwise.
    Bits,
    /// Binary: int64 only (the shifts).
    Integer,
}

impl Class {
    pub fn name(self) -> &'static str {
        match self {
            Class::Float => "float",
            Class::Num => "num",
            Class::Pred => "pred",
            Class::Logic => "logic",
            Class::Arith => "arith",
            Class::Compare => "compare",
            Class::Bits => "bits",
            Class::Integer => "integer",
        }
    }
}

/// A table row as data: what `_core._op_table()` exports and the WGSL library is built from.
pub struct OpInfo {
    pub name: &'static str,
    pub arity: usize,
    pub class: Class,
    /// `method`, `function`, `bound` or `internal` (see the table's header).
    pub api: &'static str,
    pub params: &'static [(&'static str, f64)],
    /// The generated in-place form's name (`exp_`), if the row has one.
    pub inplace: Option<&'static str>,
    pub has_int: bool,
    /// The GPU op code (unary: 0 is the cast).
    pub code: u32,
    pub wgsl: &'static str,
    pub wgsl_int: &'static str,
    /// NumPy templates: forward, then per input the local derivative, then optionally per
    /// input the vjp.
    pub numpy: &'static [&'static str],
    /// The row's doc comment, one entry per line (each with the space after `///`): the
    /// docstring of its Python bindings.
    pub doc: &'static [&'static str],
}

impl OpInfo {
    /// The doc comment as text (what pyo3 makes of it: one leading space off each line).
    pub fn doc_text(&self) -> String {
        self.doc.iter().map(|l| l.strip_prefix(' ').unwrap_or(l)).collect::<Vec<_>>().join("\n")
    }
}

/// Receives a unary kind's CPU function; each `run` is monomorphised per kind.
pub trait UnaryMap<T> {
    type Out;
    fn run<F: Fn(T) -> T + Send + Sync + Copy>(self, f: F) -> Self::Out;
    fn run_pred<F: Fn(T) -> bool + Send + Sync + Copy>(self, f: F) -> Self::Out;
    /// The kind has no function for `T`.
    fn unsupported(self) -> Self::Out;
}

/// Receives a binary kind's CPU function.
pub trait BinaryMap<T> {
    type Out;
    fn run<F: Fn(T, T) -> T + Send + Sync + Copy>(self, f: F) -> Self::Out;
    fn run_compare<F: Fn(T, T) -> bool + Send + Sync + Copy>(self, f: F) -> Self::Out;
    fn unsupported(self) -> Self::Out;
}

/// Evaluates one kind on one number (the scalar backward path).
struct Eval<T>(T, Option<T>);

impl<T: Copy> UnaryMap<T> for Eval<T> {
    type Out = Option<T>;
    fn run<F: Fn(T) -> T + Send + Sync + Copy>(self, f: F) -> Option<T> {
        Some(f(self.0))
    }
    fn run_pred<F: Fn(T) -> bool + Send + Sync + Copy>(self, _f: F) -> Option<T> {
        None
    }
    fn unsupported(self) -> Option<T> {
        None
    }
}

impl<T: Copy> BinaryMap<T> for Eval<T> {
    type Out = Option<T>;
    fn run<F: Fn(T, T) -> T + Send + Sync + Copy>(self, f: F) -> Option<T> {
        Some(f(self.0, self.1?))
    }
    fn run_compare<F: Fn(T, T) -> bool + Send + Sync + Copy>(self, _f: F) -> Option<T> {
        None
    }
    fn unsupported(self) -> Option<T> {
        None
    }
}

// ---- unary ---------------------------------------------------------------------------------

macro_rules! unary_enum {
    (@acc [$($done:tt)*]) => {
        /// An elementwise function of one tensor (a row of the op table).
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub enum UnaryKind { $($done)* }
    };
    (@acc [$($done:tt)*] [$(#[$doc:meta])*] $K:ident {} $($rest:tt)*) => {
        unary_enum!(@acc [$($done)* $(#[$doc])* $K,] $($rest)*);
    };
    (@acc [$($done:tt)*] [$(#[$doc:meta])*] $K:ident { $($p:ident),+ } $($rest:tt)*) => {
        unary_enum!(@acc [$($done)* $(#[$doc])* $K { $($p: f64),+ },] $($rest)*);
    };
}

/// The float arm of a unary kind, by class.
macro_rules! unary_float_arm {
    (float, $m:ident, |$x:ident| $e:expr) => { $m.run(move |$x: T| -> T { $e }) };
    (num, $m:ident, |$x:ident| $e:expr) => { $m.run(move |$x: T| -> T { $e }) };
    (pred, $m:ident, |$x:ident| $e:expr) => { $m.run_pred(move |$x: T| -> bool { $e }) };
    (logic, $m:ident, |$x:ident| $e:expr) => { $m.unsupported() };
}

macro_rules! unary_int_arm {
    ($class:ident, $m:ident,) => { $m.unsupported() };
    (pred, $m:ident, |$x:ident| $e:expr) => { $m.run_pred(move |$x: i64| -> bool { $e }) };
    ($class:ident, $m:ident, |$x:ident| $e:expr) => { $m.run(move |$x: i64| -> i64 { $e }) };
}

macro_rules! unary_bool_arm {
    (logic, $m:ident, |$x:ident| $e:expr) => { $m.run(move |$x: bool| -> bool { $e }) };
    ($class:ident, $m:ident, |$x:ident| $e:expr) => { $m.unsupported() };
}

macro_rules! class_of {
    (float) => { Class::Float };
    (num) => { Class::Num };
    (pred) => { Class::Pred };
    (logic) => { Class::Logic };
    (arith) => { Class::Arith };
    (compare) => { Class::Compare };
    (bits) => { Class::Bits };
    (integer) => { Class::Integer };
}

macro_rules! inplace_name {
    (_) => { None };
    ($ip:ident) => { Some(stringify!($ip)) };
}

macro_rules! has {
    () => { false };
    ($($t:tt)+) => { true };
}

macro_rules! first_or_empty {
    () => { "" };
    ($s:literal) => { $s };
}

macro_rules! unary_kinds {
    ($(
        $(#[doc = $doc:tt])+
        $K:ident { $($p:ident = $d:expr $(=> $none:ident)?),* } $name:literal $class:ident $save:ident $api:ident $inplace:tt
        cpu(|$x:ident| $cpu:expr) int($(|$xi:ident| $int:expr)?) wgsl($wgsl:literal) wgsl_int($($wgsl_int:literal)?)
        vjp(|$g:ident, $s:ident| $vjp:expr)
        numpy($($np:literal),+ $(,)?);
    )*) => {
        unary_enum!(@acc [] $([$(#[doc = $doc])+] $K { $($p),* })*);

        #[allow(non_camel_case_types, clippy::upper_case_acronyms, dead_code)]
        #[derive(Clone, Copy)]
        enum UnaryCode { CAST, $($K),* }

        /// Every unary row, in table order (`code` is the position + 1; 0 is the cast).
        pub static UNARY_OPS: &[OpInfo] = &[$(OpInfo {
            name: $name,
            arity: 1,
            class: class_of!($class),
            api: stringify!($api),
            params: &[$((stringify!($p), $d)),*],
            inplace: inplace_name!($inplace),
            has_int: has!($($int)?),
            code: UnaryCode::$K as u32,
            wgsl: $wgsl,
            wgsl_int: first_or_empty!($($wgsl_int)?),
            numpy: &[$($np),+],
            doc: &[$($doc),+],
        }),*];

        impl UnaryKind {
            pub fn name(self) -> &'static str {
                match self { $(UnaryKind::$K { .. } => $name),* }
            }

            pub fn info(self) -> &'static OpInfo {
                &UNARY_OPS[self.code() as usize - 1]
            }

            pub fn class(self) -> Class {
                match self { $(UnaryKind::$K { .. } => class_of!($class)),* }
            }

            /// Whether the function only makes sense on floats (ints are promoted to float32 first).
            pub fn is_float_only(self) -> bool {
                self.class() == Class::Float
            }

            /// Whether the vjp reads the output (else the input).
            pub fn saves_output(self) -> bool {
                match self { $(UnaryKind::$K { .. } => stringify!($save) == "output"),* }
            }

            /// The GPU op code of `unary.wgsl`.
            pub fn code(self) -> u32 {
                match self { $(UnaryKind::$K { .. } => UnaryCode::$K as u32),* }
            }

            /// The parameters, by name, in declaration order.
            #[allow(unused_variables)]
            pub fn params(self) -> SmallVec<[(&'static str, f64); 2]> {
                match self { $(UnaryKind::$K { $($p),* } => smallvec::smallvec![$((stringify!($p), $p)),*]),* }
            }

            /// The kind with its parameters' default values, by name (`None` for unknown names).
            pub fn from_name(name: &str) -> Option<UnaryKind> {
                match name { $($name => Some(UnaryKind::$K { $($p: $d),* }),)* _ => None }
            }

            /// Hands the kind's float function (parameters bound as `T`) to `m`.
            #[allow(unused_variables, clippy::redundant_closure_call)]
            #[inline]
            pub fn with_float_fn<T: Real, M: UnaryMap<T>>(self, m: M) -> M::Out {
                match self {
                    $(UnaryKind::$K { $($p),* } => {
                        $(let $p = T::from_f64c($p);)*
                        unary_float_arm!($class, m, |$x| $cpu)
                    })*
                }
            }

            /// Hands the kind's int64 function (parameters as `f64`) to `m`.
            #[allow(unused_variables)]
            #[inline]
            pub fn with_int_fn<M: UnaryMap<i64>>(self, m: M) -> M::Out {
                match self {
                    $(UnaryKind::$K { $($p),* } => { unary_int_arm!($class, m, $(|$xi| $int)?) })*
                }
            }

            /// Hands the kind's bool function to `m`.
            #[allow(unused_variables)]
            #[inline]
            pub fn with_bool_fn<M: UnaryMap<bool>>(self, m: M) -> M::Out {
                match self {
                    $(UnaryKind::$K { $($p),* } => { unary_bool_arm!($class, m, |$x| $cpu) })*
                }
            }

            /// The function at one number (`None` for kinds without a float-valued function).
            #[inline]
            pub fn eval<T: Real>(self, x: T) -> Option<T> {
                self.with_float_fn(Eval(x, None))
            }
        }
    };
}

crate::unary_table!(unary_kinds);

// ---- binary --------------------------------------------------------------------------------

macro_rules! binary_float_arm {
    (compare, $m:ident, |$x:ident, $y:ident| $e:expr) => { $m.run_compare(move |$x: T, $y: T| -> bool { $e }) };
    (logic, $m:ident, |$x:ident, $y:ident| $e:expr) => { $m.unsupported() };
    (bits, $m:ident, |$x:ident, $y:ident| $e:expr) => { $m.unsupported() };
    (integer, $m:ident, |$x:ident, $y:ident| $e:expr) => { $m.unsupported() };
    ($class:ident, $m:ident, |$x:ident, $y:ident| $e:expr) => { $m.run(move |$x: T, $y: T| -> T { $e }) };
}

macro_rules! binary_int_arm {
    (compare, $m:ident, |$x:ident, $y:ident| $e:expr; $($int:tt)*) => { $m.run_compare(move |$x: i64, $y: i64| -> bool { $e }) };
    ($class:ident, $m:ident, |$x:ident, $y:ident| $e:expr;) => { $m.unsupported() };
    ($class:ident, $m:ident, |$x:ident, $y:ident| $e:expr; |$xi:ident, $yi:ident| $int:expr) => {
        $m.run(move |$xi: i64, $yi: i64| -> i64 { $int })
    };
}

macro_rules! binary_bool_arm {
    (compare, $m:ident, |$x:ident, $y:ident| $e:expr) => { $m.run_compare(move |$x: bool, $y: bool| -> bool { $e }) };
    (logic, $m:ident, |$x:ident, $y:ident| $e:expr) => { $m.run(move |$x: bool, $y: bool| -> bool { $e }) };
    (bits, $m:ident, |$x:ident, $y:ident| $e:expr) => { $m.run(move |$x: bool, $y: bool| -> bool { $e }) };
    ($class:ident, $m:ident, |$x:ident, $y:ident| $e:expr) => { $m.unsupported() };
}

macro_rules! binary_kinds {
    ($(
        $(#[doc = $doc:tt])+
        $K:ident $name:literal $class:ident $api:ident $inplace:tt saves(a: $sa:ident, b: $sb:ident, out: $so:ident)
        cpu(|$x:ident, $y:ident| $cpu:expr) int($(|$xi:ident, $yi:ident| $int:expr)?) wgsl($wgsl:literal) wgsl_int($($wgsl_int:literal)?)
        vjp(|$g:ident, $a:ident, $b:ident, $o:ident| $va:expr, $vb:expr)
        numpy($($np:literal),+ $(,)?);
    )*) => {
        /// A broadcasting elementwise function of two tensors (a row of the op table).
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum BinaryKind { $($(#[doc = $doc])+ $K),* }

        /// Every binary row, in table order (`code` is the position; the copy is one past the last).
        pub static BINARY_OPS: &[OpInfo] = &[$(OpInfo {
            name: $name,
            arity: 2,
            class: class_of!($class),
            api: stringify!($api),
            params: &[],
            inplace: inplace_name!($inplace),
            has_int: has!($($int)?),
            code: BinaryKind::$K as u32,
            wgsl: $wgsl,
            wgsl_int: first_or_empty!($($wgsl_int)?),
            numpy: &[$($np),+],
            doc: &[$($doc),+],
        }),*];

        impl BinaryKind {
            pub fn name(self) -> &'static str {
                match self { $(BinaryKind::$K => $name),* }
            }

            pub fn info(self) -> &'static OpInfo {
                &BINARY_OPS[self as usize]
            }

            pub fn class(self) -> Class {
                match self { $(BinaryKind::$K => class_of!($class)),* }
            }

            /// The GPU op code of `binary.wgsl`.
            pub fn code(self) -> u32 {
                self as u32
            }

            #[cfg(test)]
            pub fn from_name(name: &str) -> Option<BinaryKind> {
                match name { $($name => Some(BinaryKind::$K),)* _ => None }
            }

            /// Hands the kind's float function (or comparison) to `m`.
            #[inline]
            pub fn with_float_fn<T: Real, M: BinaryMap<T>>(self, m: M) -> M::Out {
                match self { $(BinaryKind::$K => { binary_float_arm!($class, m, |$x, $y| $cpu) })* }
            }

            /// Hands the kind's int64 function (or comparison) to `m`.
            #[inline]
            pub fn with_int_fn<M: BinaryMap<i64>>(self, m: M) -> M::Out {
                match self { $(BinaryKind::$K => { binary_int_arm!($class, m, |$x, $y| $cpu; $(|$xi, $yi| $int)?) })* }
            }

            /// Hands the kind's bool function (logical and bitwise ops, comparisons) to `m`.
            #[inline]
            pub fn with_bool_fn<M: BinaryMap<bool>>(self, m: M) -> M::Out {
                match self { $(BinaryKind::$K => { binary_bool_arm!($class, m, |$x, $y| $cpu) })* }
            }

            /// The function at two numbers (`None` for comparisons and bool-only kinds).
            #[inline]
            pub fn eval<T: Real>(self, x: T, y: T) -> Option<T> {
                self.with_float_fn(Eval(x, Some(y)))
            }
        }

        /// `binary.wgsl`'s code for a plain copy (`dst = src`), one past the table.
        pub const ASSIGN_CODE: u32 = [$(BinaryKind::$K),*].len() as u32;
    };
}

crate::binary_table!(binary_kinds);

impl BinaryKind {
    /// Comparisons and logical ops return bool.
    pub fn returns_bool(self) -> bool {
        matches!(self.class(), Class::Compare | Class::Logic)
    }

    /// Integer division and remainders, whose int64 kernels refuse a zero divisor.
    pub fn divides_ints(self) -> bool {
        matches!(self, BinaryKind::FloorDiv | BinaryKind::Remainder | BinaryKind::Fmod | BinaryKind::DivTrunc | BinaryKind::DivFloor)
    }
}

/// The error for a dtype a kind has no kernel for.
pub fn unsupported_dtype(name: &str, class: Class, dtype: DType) -> Error {
    match (class, dtype) {
        (Class::Logic, _) if name == "logical_not" => dtype_err!("{name}: expected a bool tensor, got {}", dtype.name()),
        // PyTorch: NotImplementedError ("not implemented for 'Float'"), TypeError for `~`.
        (Class::Logic | Class::Bits | Class::Integer, d) if d.is_float() => Error::Type(format!(
            "{name}: not defined for {} tensors; bitwise ops take integer{} tensors",
            dtype.name(),
            if class == Class::Integer { "" } else { " or bool" }
        )),
        (Class::Integer, _) => dtype_err!("{name}: not defined for {} tensors (shifts take integer tensors)", dtype.name()),
        (Class::Logic | Class::Bits, _) => {
            dtype_err!("{name}: not defined for {} tensors (bitwise ops take int64 or bool)", dtype.name())
        }
        (_, DType::Bool) => dtype_err!("{name}: not defined for bool tensors; convert with .float() or .long() first"),
        _ => dtype_err!("{name}: not defined for {} tensors", dtype.name()),
    }
}

/// Every row of the table, unary then binary.
pub fn all_ops() -> impl Iterator<Item = &'static OpInfo> {
    UNARY_OPS.iter().chain(BINARY_OPS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_names_and_params_follow_the_table() {
        assert_eq!(UnaryKind::Neg.code(), 1);
        for (i, op) in UNARY_OPS.iter().enumerate() {
            assert_eq!(op.code as usize, i + 1);
            let k = UnaryKind::from_name(op.name).unwrap();
            assert_eq!(k.name(), op.name);
            assert_eq!(k.params().len(), op.params.len());
        }
        for (i, op) in BINARY_OPS.iter().enumerate() {
            assert_eq!(BinaryKind::from_name(op.name).unwrap().code() as usize, i);
        }
        assert_eq!(ASSIGN_CODE as usize, BINARY_OPS.len());
        let sp = UnaryKind::Softplus { beta: 2.0, threshold: 10.0 };
        assert_eq!(sp.params().as_slice(), &[("beta", 2.0), ("threshold", 10.0)]);
        assert_eq!(sp.eval(11.0f64), Some(11.0));
        assert!(UnaryKind::IsNan.eval(1.0f32).is_none());
        assert_eq!(BinaryKind::Remainder.eval(-5.0f64, f64::INFINITY), Some(f64::INFINITY));
    }
}
