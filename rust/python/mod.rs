//! The Python binding: the only module that imports pyo3. Argument parsing, conversions and
//! errors live here; everything else is the engine.

mod arith;
mod autograd;
mod convert;
mod elementwise;
mod errors;
mod function;
mod functions;
mod gpu;
mod graph;
mod interop;
mod linalg;
mod norm;
mod optim;
mod shape_ops;
mod tensor;
mod tensor_index;
mod tensor_ops;

use pyo3::prelude::*;


#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    errors::register(m)?;
    gpu::register(m)?;
    elementwise::register(m)?;
    arith::register(m)?;
    m.add_class::<tensor::PyTensor>()?;
    m.add_class::<convert::PyDType>()?;
    m.add_class::<convert::PyDevice>()?;
    m.add_class::<graph::PyNode>()?;
    m.add_class::<graph::PyAccumulateGrad>()?;
    m.add_class::<function::FunctionCtx>()?;
    m.add_class::<autograd::RemovableHandle>()?;
    for dtype in [crate::DType::F32, crate::DType::F64, crate::DType::I64, crate::DType::Bool] {
        m.add(dtype.name(), convert::PyDType { dtype })?;
    }
    m.add_function(wrap_pyfunction!(autograd::grad, m)?)?;
    m.add_function(wrap_pyfunction!(autograd::is_grad_enabled, m)?)?;
    m.add_function(wrap_pyfunction!(autograd::_set_grad_enabled, m)?)?;
    m.add_function(wrap_pyfunction!(autograd::_set_trace_all, m)?)?;
    m.add_function(wrap_pyfunction!(function::_record_function, m)?)?;
    m.add_function(wrap_pyfunction!(interop::from_numpy, m)?)?;
    m.add_function(wrap_pyfunction!(optim::sgd_step, m)?)?;
    m.add_function(wrap_pyfunction!(optim::adam_step, m)?)?;
    m.add_function(wrap_pyfunction!(optim::rule_step, m)?)?;
    macro_rules! add_linalg {
        ($($f:ident),* $(,)?) => { $( m.add_function(wrap_pyfunction!(linalg::$f, m)?)?; )* };
    }
    add_linalg!(
        linalg_solve, linalg_inv, linalg_det, linalg_slogdet, linalg_cholesky, linalg_qr, linalg_eigh, linalg_svd,
        diagonal, diag_embed, tril, triu, bmm, mv, outer, trace, diag, addmm, addmv, baddbmm,
    );
    m.add_function(wrap_pyfunction!(norm::norm_rows, m)?)?;
    macro_rules! add {
        ($($f:ident),* $(,)?) => { $( m.add_function(wrap_pyfunction!(functions::$f, m)?)?; )* };
    }
    add!(
        tensor, zeros, ones, empty, full, zeros_like, ones_like, empty_like, full_like, rand, randn, rand_like,
        randn_like, randint, randperm, arange, linspace, eye, manual_seed, cat, stack, where_, linear,
        cross_entropy, nll_loss, mse_loss, multi_margin_loss, dropout, softmax, log_softmax, leaky_relu, elu,
    );
    Ok(())
}
