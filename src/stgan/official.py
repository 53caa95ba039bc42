"""The official TensorFlow STGAN (csmliu/STGAN) and its judge, mapped onto this project's modules.

The official ``models.py`` builds every layer with TF-slim inside four variable scopes, so a
checkpoint's variable names follow from the architecture alone:

- ``Genc/Conv{,_1,…}``: the encoder, ``weights`` (4×4, no bias) + ``BatchNorm/{gamma, beta,
  moving_mean, moving_variance}`` per layer;
- ``Gstu``: per STU, deepest first, one ``Conv2d_transpose_i`` (``weights``, ``biases``: eq. 2)
  and three convolutions ``Conv_{3i}``, ``Conv_{3i+1}``, ``Conv_{3i+2}`` (W_r, W_z, W_h; with
  ``--stu_norm`` bn/in a ``BatchNorm``/``InstanceNorm`` scope and no bias);
- ``Gdec/Conv2d_transpose{,_1,…}``: the decoder, BatchNorm on all but the last layer, which
  has ``biases`` (and with ``--one_more_conv`` one more transposed convolution);
- ``D/Conv{,_1,…}`` with ``InstanceNorm/{gamma, beta}``, then four dense layers
  ``D/flatten_fully_connected{,_1,_2,_3}/fully_connected/{weights, biases}``: adversarial
  hidden, adversarial out, attribute hidden, attribute out, in that order;
- the judge (``att_classification/models.py``): ``classifier/Conv{,_1,…,_9}`` with BatchNorm,
  ``classifier/flatten_fully_connected{,_1}/fully_connected``.

Layouts: TF convolution kernels are (kh, kw, in, out) and PyTorch's (out, in, kh, kw);
``conv2d_transpose`` kernels are (kh, kw, out, in) and ``ConvTranspose2d``'s (in, out, kh,
kw): both are permuted by axes (3, 2, 0, 1), with no spatial flip (each framework's transposed
convolution is the adjoint of its own correlation). Dense kernels are (in, out); the first
dense layer after the convolutions reads TF's NHWC flattening, rows ordered (h, w, c), so its
rows are reordered to PyTorch's (c, h, w). TF's 'SAME' padding equals the project's padding
for every layer here: a 4×4 stride-2 convolution of an even side pads 1 before and 1 after
(pad_total = 2), its transpose likewise, and k×k stride-1 layers with odd k pad (k−1)/2.

Optimizer slots (``…/Adam``, ``…/Adam_1``), ``beta1_power``/``beta2_power`` and the step
counter ``counter/counter`` are not model variables; the counter becomes the step.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from stgan.errors import UserError
from stgan.tfcheckpoint import Bundle

#: Variables of a checkpoint that are no model weight: Adam slots and powers, the step counter.
NON_MODEL = re.compile(r"(/Adam(_\d+)?$)|(^beta[12]_power(_\d+)?$)|(^counter/counter$)")
COUNTER = "counter/counter"
FLOAT_DTYPES = (1, 2, 19)  # DT_FLOAT, DT_DOUBLE, DT_HALF

#: official train.py option → (config section, field); setting.txt holds them as JSON.
SETTINGS: dict[str, tuple[str, str]] = {
    "img_size": ("model", "img_size"),
    "enc_dim": ("model", "enc_dim"),
    "dec_dim": ("model", "dec_dim"),
    "dis_dim": ("model", "dis_dim"),
    "dis_fc_dim": ("model", "dis_fc_dim"),
    "enc_layers": ("model", "enc_layers"),
    "dec_layers": ("model", "dec_layers"),
    "dis_layers": ("model", "dis_layers"),
    "shortcut_layers": ("model", "shortcut_layers"),
    "inject_layers": ("model", "inject_layers"),
    "label": ("model", "label"),
    "use_stu": ("model", "use_stu"),
    "stu_dim": ("model", "stu_dim"),
    "stu_inject_layers": ("model", "stu_inject_layers"),
    "stu_kernel_size": ("model", "stu_kernel"),
    "stu_norm": ("model", "stu_norm"),
    "stu_state": ("model", "stu_state"),
    "multi_inputs": ("model", "multi_inputs"),
    "one_more_conv": ("model", "one_more_conv"),
    "atts": ("data", "attrs"),
    "batch_size": ("train", "batch_size"),
    "n_d": ("train", "n_critic"),
    "epoch": ("train", "epochs"),
    "init_epoch": ("train", "decay_epoch"),
    "lr": ("train", "lr"),
    "thres_int": ("train", "thres_int"),
    "test_int": ("train", "test_int"),
    "rec_loss_weight": ("train", "w_rec"),
}


def _slim(scope: str, i: int) -> str:
    """TF-slim's i-th default scope name in one variable scope: Conv, Conv_1, Conv_2, ..."""
    return scope if i == 0 else f"{scope}_{i}"


@dataclass(frozen=True)
class Param:
    """One official variable and the PyTorch state-dict entry it becomes.

    ``kind``: ``conv`` | ``deconv`` (kernels, axes (3, 2, 0, 1)), ``dense`` (transposed),
    ``dense_nhwc`` (transposed, rows reordered from (h, w, c) to (c, h, w) with ``chw``),
    ``vector`` (as is).
    """

    tf_name: str
    key: str  # "<module>.<state-dict key>", module one of G, D, classifier
    kind: str
    chw: tuple[int, int, int] | None = None


def tf_shape(p: Param, torch_shape: Sequence[int]) -> tuple[int, ...]:
    """The shape the official variable must have for a PyTorch tensor of ``torch_shape``."""
    s = tuple(torch_shape)
    if p.kind in ("conv", "deconv"):
        return (s[2], s[3], s[1], s[0])
    if p.kind in ("dense", "dense_nhwc"):
        return (s[1], s[0])
    return s


def to_torch(p: Param, value: np.ndarray) -> torch.Tensor:
    """The official variable ``value`` in the layout of PyTorch's tensor."""
    v = np.asarray(value, dtype=np.float32)
    if p.kind in ("conv", "deconv"):
        v = v.transpose(3, 2, 0, 1)  # HWIO → OIHW;  conv2d_transpose HWOI → (I, O, H, W)
    elif p.kind == "dense":
        v = v.T
    elif p.kind == "dense_nhwc":
        c, h, w = p.chw
        v = v.reshape(h, w, c, -1).transpose(3, 2, 0, 1).reshape(v.shape[1], c * h * w)
    return torch.from_numpy(np.ascontiguousarray(v))


def _bn(scope: str, key: str) -> list[Param]:
    return [
        Param(f"{scope}/BatchNorm/gamma", f"{key}.weight", "vector"),
        Param(f"{scope}/BatchNorm/beta", f"{key}.bias", "vector"),
        Param(f"{scope}/BatchNorm/moving_mean", f"{key}.running_mean", "vector"),
        Param(f"{scope}/BatchNorm/moving_variance", f"{key}.running_var", "vector"),
    ]


def _norm(scope: str, key: str, module: nn.Module) -> list[Param]:
    if isinstance(module, nn.BatchNorm2d):
        return _bn(scope, key)
    return [  # affine InstanceNorm (slim.instance_norm: center and scale)
        Param(f"{scope}/InstanceNorm/gamma", f"{key}.weight", "vector"),
        Param(f"{scope}/InstanceNorm/beta", f"{key}.bias", "vector"),
    ]


def generator_params(g: nn.Module) -> list[Param]:
    """The official names of every weight of a :class:`~stgan.models.Generator` (built with
    ``upsample="deconv"`` and no mask: the official architecture)."""
    out: list[Param] = []
    for i in range(len(g.encoder)):  # [Conv, BN, LReLU]
        scope = f"Genc/{_slim('Conv', i)}"
        out += [Param(f"{scope}/weights", f"G.encoder.{i}.0.weight", "conv")]
        out += _bn(scope, f"G.encoder.{i}.1")
    for i, stu in enumerate(g.stus):
        scope = f"Gstu/{_slim('Conv2d_transpose', i)}"
        out += [
            Param(f"{scope}/weights", f"G.stus.{i}.transform.weight", "deconv"),
            Param(f"{scope}/biases", f"G.stus.{i}.transform.bias", "vector"),
        ]
        for j, gate in enumerate(("reset_gate", "update_gate", "hidden")):
            scope, key = f"Gstu/{_slim('Conv', 3 * i + j)}", f"G.stus.{i}.{gate}"
            mod = getattr(stu, gate)
            if isinstance(mod, nn.Conv2d):
                out += [
                    Param(f"{scope}/weights", f"{key}.weight", "conv"),
                    Param(f"{scope}/biases", f"{key}.bias", "vector"),
                ]
            else:  # [Conv (no bias), norm]
                out += [Param(f"{scope}/weights", f"{key}.0.weight", "conv")]
                out += _norm(scope, f"{key}.1", mod[1])
    n = len(g.decoder)
    for i in range(n - 1):  # [ConvT, BN, ReLU]
        scope = f"Gdec/{_slim('Conv2d_transpose', i)}"
        out += [Param(f"{scope}/weights", f"G.decoder.{i}.0.weight", "deconv")]
        out += _bn(scope, f"G.decoder.{i}.1")
    last = g.decoder[-1][0]
    if isinstance(last, nn.ConvTranspose2d):
        scope = f"Gdec/{_slim('Conv2d_transpose', n - 1)}"
        key = f"G.decoder.{n - 1}.0"
    else:  # one_more_conv: [[ConvT, BN, ReLU], ConvT k×k stride 1]
        scope = f"Gdec/{_slim('Conv2d_transpose', n - 1)}"
        out += [Param(f"{scope}/weights", f"G.decoder.{n - 1}.0.0.0.weight", "deconv")]
        out += _bn(scope, f"G.decoder.{n - 1}.0.0.1")
        scope = f"Gdec/{_slim('Conv2d_transpose', n)}"
        key = f"G.decoder.{n - 1}.0.1"
    out += [
        Param(f"{scope}/weights", f"{key}.weight", "deconv"),
        Param(f"{scope}/biases", f"{key}.bias", "vector"),
    ]
    return out


def _flat_chw(convs: Sequence[nn.Module], fc: nn.Linear) -> tuple[int, int, int]:
    c = convs[-1].out_channels
    side = int(round((fc.in_features // c) ** 0.5))
    return (c, side, side)


def _fc(scope: str, i: int, key: str, chw: tuple[int, int, int] | None) -> list[Param]:
    name = f"{scope}/{_slim('flatten_fully_connected', i)}/fully_connected"
    return [
        Param(f"{name}/weights", f"{key}.weight", "dense_nhwc" if chw else "dense", chw),
        Param(f"{name}/biases", f"{key}.bias", "vector"),
    ]


def discriminator_params(d: nn.Module) -> list[Param]:
    """The official names of every weight of a :class:`~stgan.models.Discriminator`."""
    out: list[Param] = []
    for i in range(len(d.trunk)):  # [Conv, InstanceNorm, LReLU]
        scope = f"D/{_slim('Conv', i)}"
        out += [Param(f"{scope}/weights", f"D.trunk.{i}.0.weight", "conv")]
        out += _norm(scope, f"D.trunk.{i}.1", d.trunk[i][1])
    chw = _flat_chw([layer[0] for layer in d.trunk], d.adv_head[0])
    out += _fc("D", 0, "D.adv_head.0", chw) + _fc("D", 1, "D.adv_head.2", None)
    out += _fc("D", 2, "D.att_head.0", chw) + _fc("D", 3, "D.att_head.2", None)
    return out


def classifier_params(c: nn.Module) -> list[Param]:
    """The official names of every weight of the judge (:class:`~stgan.models.Classifier`)."""
    named = list(c.features.named_modules())
    convs = [(n, m) for n, m in named if isinstance(m, nn.Conv2d)]
    norms = [(n, m) for n, m in named if isinstance(m, nn.BatchNorm2d)]
    linears = [(n, m) for n, m in c.head.named_modules() if isinstance(m, nn.Linear)]
    out: list[Param] = []
    for i, ((cn, _), (bn, _)) in enumerate(zip(convs, norms, strict=True)):
        scope = f"classifier/{_slim('Conv', i)}"
        out += [Param(f"{scope}/weights", f"classifier.features.{cn}.weight", "conv")]
        out += _bn(scope, f"classifier.features.{bn}")
    chw = _flat_chw([m for _, m in convs], linears[0][1])
    for i, (ln, _) in enumerate(linears):
        out += _fc("classifier", i, f"classifier.head.{ln}", chw if i == 0 else None)
    return out


def classifier_shape(bundle: Bundle) -> tuple[tuple[int, ...], int, int, int]:
    """``(widths, fc_dim, n_attrs, img_size)`` of an official judge checkpoint, read from its
    shapes (the official one: dim 32 → widths 16 … 256, fc 512, 40 outputs, 128 px).

    Raises:
        UserError: not an att_classification checkpoint.
    """
    convs = sorted(
        (int(m.group(1) or 0), n)
        for n in bundle.entries
        if (m := re.fullmatch(r"classifier/Conv(?:_(\d+))?/weights", n))
    )
    fc0 = "classifier/flatten_fully_connected/fully_connected/weights"
    fc1 = "classifier/flatten_fully_connected_1/fully_connected/weights"
    if not convs or len(convs) % 2 or fc0 not in bundle.entries or fc1 not in bundle.entries:
        raise UserError(
            f"{bundle.prefix} is not an official attribute classifier checkpoint (no "
            "classifier/Conv*/weights pairs and two classifier/flatten_fully_connected layers)"
        )
    widths = tuple(bundle.shape(n)[3] for i, n in convs if i % 2 == 0)
    flat, fc_dim = bundle.shape(fc0)
    side = int(round((flat / widths[-1]) ** 0.5))
    return widths, fc_dim, bundle.shape(fc1)[1], side * 2 ** len(widths)


def unused_stu_names(g_full: nn.Module, g: nn.Module) -> set[str]:
    """Names of the official STU cells the decoder never reads: the official code always
    builds ``stu_layers`` (= enc_layers − 1) cells, while only the ``shortcut_layers``
    deepest feed the decoder (and the state flows only towards shallower cells)."""
    used = {p.tf_name for p in generator_params(g)}
    return {p.tf_name for p in generator_params(g_full) if p.tf_name.startswith("Gstu/")} - used


@dataclass
class Imported:
    """What :func:`load_official` read: PyTorch state dicts per module, the step, notes."""

    states: dict[str, dict[str, torch.Tensor]]
    step: int
    skipped: int  # optimizer slots and the like
    ignored: int  # unused STU cells


def load_official(
    bundle: Bundle,
    modules: dict[str, nn.Module],
    params: list[Param],
    ignore: set[str] | frozenset[str] = frozenset(),
    hint: str = "(setting.txt, --img-size, --attrs, --set model.*)",
) -> Imported:
    """Read every variable of ``params`` from ``bundle`` into state dicts of ``modules``.

    The checkpoint must hold exactly these model variables (besides :data:`NON_MODEL` ones and
    ``ignore``), each with the shape the module needs.

    Raises:
        UserError: one line naming the first variable missing, extra or of the wrong shape
            (with the number of further mismatches).
    """
    states = {name: m.state_dict() for name, m in modules.items()}
    targets = {p.key: p for p in params}
    missing_keys = [
        f"{n}.{k}" for n, st in states.items() for k in st
        if f"{n}.{k}" not in targets and not k.endswith("num_batches_tracked")
    ]  # fmt: skip
    if missing_keys:  # a bug of this module, not of the user's checkpoint
        raise RuntimeError(f"no official variable maps to {missing_keys[0]}")
    present = {n for n in bundle.entries if not NON_MODEL.search(n) and n not in ignore}
    problems: list[str] = []
    for p in params:
        if p.tf_name not in present:
            problems.append(f"lacks variable {p.tf_name}")
    for name in sorted(present - {p.tf_name for p in params}):
        problems.append(f"has variable {name}, which the configured model has no place for")
    for p in params:
        if p.tf_name not in present:
            continue
        module, key = p.key.split(".", 1)
        want = tf_shape(p, states[module][key].shape)
        got = bundle.shape(p.tf_name)
        if got != want:
            problems.append(
                f"variable {p.tf_name} has shape {got}, the configured model needs {want}"
            )
        elif bundle.entries[p.tf_name].dtype not in FLOAT_DTYPES:
            problems.append(f"variable {p.tf_name} is not a floating-point tensor")
    if problems:
        more = f" (and {len(problems) - 1} more mismatches)" if len(problems) > 1 else ""
        raise UserError(
            f"official checkpoint {bundle.prefix} {problems[0]}{more}; the model options "
            f"{hint} must match the checkpoint's"
        )
    for p in params:
        module, key = p.key.split(".", 1)
        states[module][key] = to_torch(p, bundle.read(p.tf_name))
    skipped = sum(1 for n in bundle.entries if NON_MODEL.search(n))
    return Imported(states, read_step(bundle), skipped, len(set(ignore) & set(bundle.entries)))


def read_step(bundle: Bundle) -> int:
    """The official iteration counter (``counter/counter``), 0 when the checkpoint has none."""
    return int(bundle.read(COUNTER).reshape(())) if COUNTER in bundle.entries else 0


def find_settings(prefix: Path) -> Path | None:
    """The official run's ``setting.txt`` (train.py writes it into output/NAME/, the
    checkpoints go to output/NAME/checkpoints/): beside the checkpoint or one folder up."""
    for folder in (prefix.parent, prefix.parent.parent):
        if (folder / "setting.txt").is_file():
            return folder / "setting.txt"
    return None


def settings_overrides(path: Path) -> dict[str, dict[str, Any]]:
    """Config overrides from an official ``setting.txt`` (the JSON of train.py's options).

    Raises:
        UserError: unreadable JSON, or an option this project cannot represent
            (``stu_layers`` other than enc_layers − 1, which the official code cannot run).
    """
    try:
        settings = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise UserError(f"cannot read the official settings {path} ({e})") from None
    if not isinstance(settings, dict):
        raise UserError(f"{path} is not the JSON object of the official train.py options")
    out: dict[str, dict[str, Any]] = {}
    for opt, (section, field) in SETTINGS.items():
        if opt in settings:
            out.setdefault(section, {})[field] = settings[opt]
    model = out.get("model", {})
    layers = int(model.get("dec_layers", 5))
    for k in ("shortcut_layers", "inject_layers"):  # the official Gdec clamps them
        if k in model:
            model[k] = min(int(model[k]), layers - 1)
    if (
        "stu_layers" in settings
        and int(settings["stu_layers"]) != int(model.get("enc_layers", 5)) - 1
    ):
        raise UserError(
            f"{path}: stu_layers = {settings['stu_layers']} is not enc_layers - 1; the official "
            "Gstu cannot run such a model"
        )
    if model.get("stu_dim") == model.get("enc_dim", 64):
        model["stu_dim"] = 0  # the same widths: the project's default
    if "attrs" in out.get("data", {}):
        out["data"]["attrs"] = tuple(out["data"]["attrs"])
    return out
