"""NumPy transcriptions of the update rules in PyTorch's optimizer documentation
(https://pytorch.org/docs/stable/optim.html), in float64, one function per optimizer.

Each takes the initial parameter, a gradient function `grad(theta)`, the number of steps and
the optimizer's keyword arguments (PyTorch's names and defaults) and returns the parameter
after those steps. Where PyTorch keeps a scalar of the algorithm in a float32 tensor (ASGD's
eta and mu, NAdam's running product of mu), the transcription rounds it the same way.
"""

import numpy as np

f32 = lambda v: float(np.float32(v))  # noqa: E731


def _prep(g, theta, weight_decay, maximize):
    g = -g if maximize else g
    return g + weight_decay * theta if weight_decay else g


def rmsprop(theta, grad, steps, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False, maximize=False):
    v = np.zeros_like(theta)
    g_ave = np.zeros_like(theta)
    b = np.zeros_like(theta)
    for _ in range(steps):
        g = _prep(grad(theta), theta, weight_decay, maximize)
        v = alpha * v + (1 - alpha) * g**2
        v_tilde = v
        if centered:
            g_ave = g_ave * alpha + (1 - alpha) * g
            v_tilde = v - g_ave**2
        if momentum > 0:
            b = momentum * b + g / (np.sqrt(v_tilde) + eps)
            theta = theta - lr * b
        else:
            theta = theta - lr * g / (np.sqrt(v_tilde) + eps)
    return theta


def adagrad(theta, grad, steps, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10, maximize=False):
    state_sum = np.full_like(theta, initial_accumulator_value)
    for t in range(1, steps + 1):
        g = _prep(grad(theta), theta, weight_decay, maximize)
        clr = lr / (1 + (t - 1) * lr_decay)
        state_sum = state_sum + g**2
        theta = theta - clr * g / (np.sqrt(state_sum) + eps)
    return theta


def adadelta(theta, grad, steps, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, maximize=False):
    v = np.zeros_like(theta)
    u = np.zeros_like(theta)
    for _ in range(steps):
        g = _prep(grad(theta), theta, weight_decay, maximize)
        v = v * rho + g**2 * (1 - rho)
        dx = np.sqrt(u + eps) / np.sqrt(v + eps) * g
        u = u * rho + dx**2 * (1 - rho)
        theta = theta - lr * dx
    return theta


def adamax(theta, grad, steps, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, maximize=False):
    b1, b2 = betas
    m = np.zeros_like(theta)
    u = np.zeros_like(theta)
    for t in range(1, steps + 1):
        g = _prep(grad(theta), theta, weight_decay, maximize)
        m = b1 * m + (1 - b1) * g
        u = np.maximum(b2 * u, np.abs(g) + eps)
        theta = theta - lr * m / ((1 - b1**t) * u)
    return theta


def nadam(theta, grad, steps, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
          decoupled_weight_decay=False, maximize=False):
    b1, b2 = betas
    m = np.zeros_like(theta)
    v = np.zeros_like(theta)
    mu_product = 1.0
    for t in range(1, steps + 1):
        g = grad(theta)
        g = -g if maximize else g
        if decoupled_weight_decay:
            theta = theta - lr * weight_decay * theta
        elif weight_decay:
            g = g + weight_decay * theta
        mu = b1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
        mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
        mu_product = f32(mu_product * f32(mu))
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        m_hat = mu_next * m / (1 - mu_product * mu_next) + (1 - mu) * g / (1 - mu_product)
        v_hat = v / (1 - b2**t)
        theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
    return theta


def radam(theta, grad, steps, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, decoupled_weight_decay=False,
          maximize=False):
    b1, b2 = betas
    m = np.zeros_like(theta)
    v = np.zeros_like(theta)
    rho_inf = 2 / (1 - b2) - 1
    for t in range(1, steps + 1):
        g = grad(theta)
        g = -g if maximize else g
        if decoupled_weight_decay:
            theta = theta - lr * weight_decay * theta
        elif weight_decay:
            g = g + weight_decay * theta
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        m_hat = m / (1 - b1**t)
        rho_t = rho_inf - 2 * t * b2**t / (1 - b2**t)
        if rho_t > 5:
            l_t = np.sqrt(1 - b2**t) / (np.sqrt(v) + eps)
            r_t = np.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            theta = theta - lr * m_hat * r_t * l_t
        else:
            theta = theta - lr * m_hat
    return theta


def asgd(theta, grad, steps, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, maximize=False):
    """Returns (theta, ax): the iterate and its running average."""
    eta, mu = f32(lr), 1.0
    ax = np.zeros_like(theta)
    for t in range(1, steps + 1):
        g = _prep(grad(theta), theta, weight_decay, maximize)
        theta = theta * (1 - lambd * eta)
        theta = theta - eta * g
        ax = ax + (theta - ax) * mu if mu != 1 else theta.copy()
        eta = f32(lr / (1 + lambd * lr * t) ** alpha)
        mu = f32(1 / max(1, t - t0))
    return theta, ax


def rprop(theta, grad, steps, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), maximize=False):
    eta_minus, eta_plus = etas
    size_min, size_max = step_sizes
    prev = np.zeros_like(theta)
    size = np.full_like(theta, lr)
    for _ in range(steps):
        g = grad(theta)
        g = -g if maximize else g
        prod = g * prev
        size = np.where(prod > 0, np.minimum(size * eta_plus, size_max), size)
        size = np.where(prod < 0, np.maximum(size * eta_minus, size_min), size)
        g = np.where(prod < 0, 0.0, g)
        theta = theta - size * np.sign(g)
        prev = g
    return theta
