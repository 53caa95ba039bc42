"""Progress bars as callbacks.

Library loops draw nothing: they report progress by calling a function they are given, e.g.
``on_step(done, total, loss=...)`` (:func:`stgan.judge.train_classifier`). :class:`Bar` is such
a function that draws a tqdm bar on stderr; the command line passes them in.
"""

from __future__ import annotations

from tqdm import tqdm


class Bar:
    """A tqdm bar driven by calls ``bar(done, total, **shown)``.

    The bar is created at the first call (when ``total`` is known) and closed when ``done``
    reaches ``total``, by :meth:`close` or at the end of a ``with`` block (a loop that stops
    early). Keyword values are shown after the bar, floats with 4 decimals.

    Args:
        desc: the bar's label.
        unit: what is counted.
        enabled: False draws nothing (``--quiet``).
    """

    def __init__(self, desc: str, unit: str = "it", enabled: bool = True):
        self.desc, self.unit, self.enabled = desc, unit, enabled
        self._bar: tqdm | None = None
        self._closed = False

    def __call__(self, done: int, total: int, **shown: float | str) -> None:
        if self._closed:
            return
        if self._bar is None:
            self._bar = tqdm(total=total, desc=self.desc, unit=self.unit, disable=not self.enabled)
        self._bar.update(done - self._bar.n)
        if shown:
            self._bar.set_postfix(
                {k: f"{v:.4f}" if isinstance(v, float) else v for k, v in shown.items()}
            )
        if done >= total:
            self.close()

    def close(self) -> None:
        if self._bar is not None and not self._closed:
            self._bar.close()
        self._closed = True

    def __enter__(self) -> Bar:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
