//! The WGSL libraries generated from the op table: `unary_ops.wgsl` and `binary_ops.wgsl`,
//! pulled into `unary.wgsl` / `binary.wgsl` by `//!include`. Each holds the op-code constants
//! and one `switch` per operand type whose cases are the table's `wgsl` / `wgsl_int`
//! expressions, with the row's parameters bound by name (floats from `walk.f`, ints from
//! `walk.u`, in declaration order).

use super::elementwise::{Class, OpInfo, ASSIGN_CODE, BINARY_OPS, UNARY_OPS};
use std::fmt::Write;
use std::sync::OnceLock;

const LANES: [&str; 4] = ["x", "y", "z", "w"];

/// The text of a generated library, by file name (`None` for other names).
pub fn generated_wgsl(file: &str) -> Option<&'static str> {
    static UNARY: OnceLock<String> = OnceLock::new();
    static BINARY: OnceLock<String> = OnceLock::new();
    match file {
        "unary_ops.wgsl" => Some(UNARY.get_or_init(unary_library)),
        "binary_ops.wgsl" => Some(BINARY.get_or_init(binary_library)),
        _ => None,
    }
}

fn constant(op: &OpInfo) -> String {
    op.name.to_uppercase()
}

fn header(out: &mut String, ops: &[OpInfo]) {
    out.push_str("// Generated from the op table (rust/ops/table.rs): op codes and each op's expression.\n");
    for op in ops {
        let _ = writeln!(out, "const {}: u32 = {}u;", constant(op), op.code);
    }
}

/// `let beta = walk.f.x; ...` (or the int bits of `walk.u`) for the row's parameters.
fn bind_params(op: &OpInfo, int: bool) -> String {
    let mut s = String::new();
    for ((name, _), lane) in op.params.iter().zip(LANES) {
        if int {
            let _ = write!(s, "let {name} = bitcast<i32>(walk.u.{lane}); ");
        } else {
            let _ = write!(s, "let {name} = walk.f.{lane}; ");
        }
    }
    s
}

/// One `switch OP` function over the rows `pick` selects, each case returning `wrap(expr)`.
fn switch(
    out: &mut String,
    signature: &str,
    ops: &[OpInfo],
    pick: impl Fn(&OpInfo) -> Option<(&'static str, bool)>,
    wrap: impl Fn(&OpInfo, &str) -> String,
    default: &str,
) {
    let _ = writeln!(out, "\nfn {signature} {{\n    switch OP {{");
    for op in ops {
        if let Some((expr, int)) = pick(op) {
            let _ = writeln!(out, "        case {}: {{ {}return {}; }}", constant(op), bind_params(op, int), wrap(op, expr));
        }
    }
    let _ = writeln!(out, "        default: {{ return {default}; }}\n    }}\n}}");
}

fn unary_library() -> String {
    let mut out = String::new();
    header(&mut out, UNARY_OPS);
    out.push_str("const CAST: u32 = 0u;\n");
    let same = |_: &OpInfo, e: &str| e.to_string();
    let int_expr = |op: &OpInfo| (!op.wgsl_int.is_empty()).then_some((op.wgsl_int, true));
    switch(
        &mut out,
        "unary_table_f32(x: f32) -> f32",
        UNARY_OPS,
        |op| matches!(op.class, Class::Float | Class::Num).then_some((op.wgsl, false)),
        same,
        "x",
    );
    switch(
        &mut out,
        "unary_table_i32(x: i32) -> i32",
        UNARY_OPS,
        |op| if matches!(op.class, Class::Num | Class::Logic) { int_expr(op) } else { None },
        same,
        "x",
    );
    switch(&mut out, "unary_table_bool(x: u32) -> u32", UNARY_OPS, |op| (op.class == Class::Logic).then_some((op.wgsl, false)), same, "x");
    switch(
        &mut out,
        "unary_table_pred_f32(x: f32) -> bool",
        UNARY_OPS,
        |op| (op.class == Class::Pred).then_some((op.wgsl, false)),
        same,
        "false",
    );
    switch(
        &mut out,
        "unary_table_pred_i32(x: i32) -> bool",
        UNARY_OPS,
        |op| if op.class == Class::Pred { int_expr(op) } else { None },
        same,
        "false",
    );
    out
}

fn binary_library() -> String {
    let mut out = String::new();
    header(&mut out, BINARY_OPS);
    let _ = writeln!(out, "const ASSIGN: u32 = {ASSIGN_CODE}u;");
    let value_or_bool = |op: &OpInfo, e: &str| {
        if op.class == Class::Compare {
            format!("select(0u, 1u, {e})")
        } else {
            format!("bitcast<u32>({e})")
        }
    };
    switch(
        &mut out,
        "binary_table_f32(x: f32, y: f32) -> u32",
        BINARY_OPS,
        |op| matches!(op.class, Class::Float | Class::Arith | Class::Compare).then_some((op.wgsl, false)),
        value_or_bool,
        "other_f32(x, y)",
    );
    switch(
        &mut out,
        "binary_table_i32(x: i32, y: i32) -> u32",
        BINARY_OPS,
        |op| (!op.wgsl_int.is_empty() && op.class != Class::Logic).then_some((op.wgsl_int, true)),
        value_or_bool,
        "other_i32(x, y)",
    );
    switch(
        &mut out,
        "binary_table_bool(x: u32, y: u32) -> u32",
        BINARY_OPS,
        |op| match op.class {
            Class::Logic | Class::Bits => Some((op.wgsl, false)),
            Class::Compare => Some((op.wgsl_int, false)),
            _ => None,
        },
        |op, e| if op.class == Class::Compare { format!("select(0u, 1u, {e})") } else { e.to_string() },
        "other_bool(x, y)",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libraries_hold_every_code_and_case() {
        let u = generated_wgsl("unary_ops.wgsl").unwrap();
        assert!(u.contains("const SOFTPLUS: u32 = "));
        assert!(u.contains("case SOFTPLUS: { let beta = walk.f.x; let threshold = walk.f.y; return"));
        assert!(u.contains("case CLAMP: { let min = bitcast<i32>(walk.u.x); let max = bitcast<i32>(walk.u.y); return"));
        let b = generated_wgsl("binary_ops.wgsl").unwrap();
        assert!(b.contains("case EQ: { return select(0u, 1u, x == y); }"));
        assert!(b.contains(&format!("const ASSIGN: u32 = {ASSIGN_CODE}u;")));
        assert!(generated_wgsl("other.wgsl").is_none());
    }
}
