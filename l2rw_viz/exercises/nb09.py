"""Exercises of notebook 9 (limits and criticism)."""

from __future__ import annotations

from . import Expects, define


@define("9.1", expects=Expects("numbers"),
        title="What can two validation points say?", wrong=(0.0, 1.0), solution="""
With $m = 2$ validation points, accuracy is the share of the two that are right: 0, 1/2 or 1, nothing in
between. That is why a validation-minus-test gap of 10 points at $m = 2$ is no evidence on its own, and why
notebook 9 needs plain training as a control. Answer: `(0.0, 0.5, 1.0)`.""")
def _answer_9_1():
    return (0.0, 0.5, 1.0)


@_answer_9_1.verify
def _(answer):
    from ..data import make_noisy

    d = make_noisy("moons", noise_rate=0.3, noise_mode="uniform", n_train=400, n_val_per_class=1, seed=0)
    m = len(d.y_val)
    possible = {k / m for k in range(m + 1)}
    assert {round(float(a), 6) for a in answer} == {round(p, 6) for p in possible}, \
        f"with {m} validation points, accuracy is (number right) / {m}"


@define("9.2", expects=Expects("integer", low=1, high=100),
        title="How many clean examples halve the noise?", wrong=10, solution="""
The validation gradient is a mean over $m$ examples, so its noise (standard error) shrinks like $1/\\sqrt{m}$.
Halving it needs four times as many examples: from 5 per class to **20 per class**. The check measures it: the
spread of the mean of $m$ per-example validation gradients of a small model, at 5 and 20 per class.""")
def _answer_9_2():
    return 20


@_answer_9_2.verify
def _(answer):
    import torch

    from ..data import make_noisy
    from ..models import make_model

    def spread(per_class):
        grads = []
        for seed in range(40):
            d = make_noisy("moons", noise_rate=0.3, noise_mode="uniform", n_train=100, n_val_per_class=per_class,
                           seed=seed)
            model = make_model("toy_mlp", 2, (2,), seed=0)
            loss = torch.nn.functional.cross_entropy(model(d.x_val), d.y_val)
            grads.append(torch.cat([g.flatten() for g in torch.autograd.grad(loss, list(model.parameters()))]))
        return float(torch.stack(grads).std(0).norm())

    ratio = spread(5) / spread(int(answer))
    assert 1.6 < ratio < 2.5, f"the spread fell by a factor {ratio:.2f}, not about 2: noise shrinks like 1/sqrt(m)"
