//! The Python binding: the only module that imports pyo3. Argument parsing, conversions and
//! errors live here; everything else is the engine.

mod arith;
mod autograd;
mod autograd_tools;
mod convert;
mod defaults;
mod dlpack_import;
mod dtypes;
mod elementwise;
mod errors;
mod function;
mod functions;
mod gpu;
mod graph;
mod interop;
mod leaf_owner;
mod linalg;
mod norm;
mod optim;
mod reductions;
mod random;
mod shape_ops;
mod tensor_names;
mod tensor;
mod tensor_index;
mod tensor_ops;
mod tensor_slot;
mod threads;

use pyo3::prelude::*;


#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    crate::alloc::configure();
    errors::register(m)?;
    threads::register(m)?;
    gpu::register(m)?;
    autograd_tools::register(m)?;
    elementwise::register(m)?;
    random::register(m)?;
    defaults::register(m)?;
    arith::register(m)?;
    m.add_class::<tensor::PyTensor>()?;
    m.add_function(wrap_pyfunction!(tensor::_data_moves, m)?)?;
    m.add_class::<convert::PyDType>()?;
    m.add_class::<convert::PyDevice>()?;
    dtypes::register(m)?;
    m.add_class::<graph::PyNode>()?;
    m.add_class::<graph::PyAccumulateGrad>()?;
    m.add_class::<function::FunctionCtx>()?;
    m.add_class::<autograd::RemovableHandle>()?;
    for dtype in crate::DType::ALL {
        m.add(dtype.name(), convert::PyDType { dtype })?;
    }
    m.add_function(wrap_pyfunction!(autograd::grad, m)?)?;
    m.add_function(wrap_pyfunction!(autograd::is_grad_enabled, m)?)?;
    m.add_function(wrap_pyfunction!(autograd::_set_grad_enabled, m)?)?;
    m.add_function(wrap_pyfunction!(autograd::_set_trace_all, m)?)?;
    m.add_function(wrap_pyfunction!(function::_record_function, m)?)?;
    m.add_function(wrap_pyfunction!(interop::from_numpy, m)?)?;
    m.add_function(wrap_pyfunction!(dlpack_import::from_dlpack, m)?)?;
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
    m.add_function(wrap_pyfunction!(reductions::var_mean, m)?)?;
    m.add_function(wrap_pyfunction!(reductions::std_mean, m)?)?;
    macro_rules! add {
        ($($f:ident),* $(,)?) => { $( m.add_function(wrap_pyfunction!(functions::$f, m)?)?; )* };
    }
    add!(
        tensor, zeros, ones, empty, full, zeros_like, ones_like, empty_like, full_like, rand, randn, rand_like,
        randn_like, randint, randperm, arange, linspace, eye, manual_seed, cat, stack, where_, linear,
        cross_entropy, nll_loss, mse_loss, multi_margin_loss, dropout, softmax, log_softmax,
    );
    Ok(())
}
