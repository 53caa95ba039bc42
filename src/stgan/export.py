"""Export a trained generator to ONNX, for any ONNX runtime (docs/export.md).

The exported graph is the generator's test-time forward (paper §3; reference §2, §4) in eval
mode, with the weights every output of a run uses (:func:`stgan.checkpoint.output_state`: the
EMA of G and the recalibrated BatchNorm statistics when the run kept them):

    inputs   image     float32 (N, 3, S, S)  RGB in [−1, 1]  (x / 127.5 − 1)
             att_diff  float32 (N, n_attrs)  the generator's attribute code
    outputs  edited    float32 (N, 3, S, S)  in [−1, 1]
             mask      float32 (N, 1, S, S)  in (0, 1), only for a masked generator

``N`` is a dynamic axis; ``S`` is fixed (the model's ``img_size``). ``att_diff`` is what
:meth:`stgan.attributes.Coding.code` returns: target − source for the difference code
(STGAN), the encoded target itself for the target code (AttGAN); the file's metadata says
which (``label``) and carries ``thres_int`` and ``test_int`` to build it (:data:`META_KEYS`).

The file is written atomically (a temporary file in the same folder, then a rename) and, when
``check`` is on, only after ONNX Runtime reproduced PyTorch on a random batch.

    from stgan.export import export_checkpoint
    result = export_checkpoint("runs/demo", "demo.onnx")   # result.max_abs_error
"""

from __future__ import annotations

import inspect
import io
import json
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from stgan import __version__, checkpoint
from stgan.attributes import Coding
from stgan.errors import UserError
from stgan.imageio import atomic_write_bytes

OPSET = 17  # ONNX opset: read by onnxruntime ≥ 1.13 (2022) and most other runtimes
CHECK_BATCH = 2  # images in the ONNX Runtime check
CHECK_ATOL = 1e-3  # largest |ONNX Runtime − PyTorch| accepted (a uint8 level is 7.8e-3)
INPUTS = ("image", "att_diff")

#: Metadata keys of an exported file (ONNX ``metadata_props``; every value a string).
META_KEYS = {
    "attr_names": "JSON list of the attribute names, in the order of att_diff's columns",
    "img_size": "side S of the square images the model takes and returns",
    "label": "diff: att_diff = target − source (STGAN); target: the encoded target (AttGAN)",
    "thres_int": "± value of a kept attribute's 0/1 label (0.5)",
    "test_int": "± value of an attribute set at test time (1.0: att_diff ±1.5)",
    "crop": "crop the training images had (celeba | celeba-170 | none | center)",
    "crop_box": "JSON [left, top, right, bottom] of that crop as fractions of the photo's "
    "width and height (celeba crops: of a CelebA-aligned photo; none: [0, 0, 1, 1]; "
    "center: empty, the largest centred square)",
    "resize": "how the training images were resized to S: pil (Pillow bicubic, antialiased) "
    "| tf-bicubic (TensorFlow 1's bicubic, as the official code)",
    "outputs": "comma-separated output names: edited, or edited,mask",
    "stgan_version": "version of stgan that wrote the file",
    "step": "training step of the checkpoint (export_checkpoint only)",
}

_EXTRA = "pip install 'stgan[export]'"


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_onnx` wrote.

    Attributes:
        path: the ONNX file.
        n_bytes: its size.
        outputs: the graph's output names (``edited``, and ``mask`` for a masked generator).
        max_abs_error: largest |ONNX Runtime − PyTorch| over every output on the check
            batch, or None when the check was skipped.
    """

    path: Path
    n_bytes: int
    outputs: tuple[str, ...]
    max_abs_error: float | None


class _EditGraph(nn.Module):
    """The exported forward: ``(image, att_diff) → edited`` or ``→ (edited, mask)``."""

    def __init__(self, G: nn.Module):
        super().__init__()
        self.G = G

    def forward(self, image: Tensor, att_diff: Tensor):
        raw, m = self.G.decode_raw(self.G.encode(image), att_diff)
        edited = self.G.blend(image, raw, m)  # (N, 3, S, S)
        return edited if m is None else (edited, m)


def require(module: str):
    """Import an optional dependency of the export (``onnx``, ``onnxruntime``), or raise a
    one-line :class:`UserError` naming the extra that installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise UserError(f"ONNX export needs the {module} package: {_EXTRA}") from None


def output_names(G: nn.Module) -> tuple[str, ...]:
    return ("edited", "mask") if getattr(G, "mask", False) else ("edited",)


def model_metadata(
    attr_names,
    img_size: int,
    coding: Coding,
    crop: str,
    resize: str = "pil",
    outputs=("edited",),
) -> dict[str, str]:
    """The metadata of :data:`META_KEYS` (but ``step``) as strings."""
    return {
        "attr_names": json.dumps(list(attr_names)),
        "img_size": str(int(img_size)),
        "label": coding.label,
        "thres_int": repr(float(coding.thres_int)),
        "test_int": repr(float(coding.test_int)),
        "crop": crop,
        "crop_box": _crop_fractions(crop, img_size),
        "resize": resize,
        "outputs": ",".join(outputs),
        "stgan_version": __version__,
    }


def _crop_fractions(crop: str, img_size: int) -> str:
    """The crop box as fractions of the photo (JSON), or "" when it depends on the photo."""
    from stgan.data.transforms import CELEBA_SIZE, crop_box

    if crop == "center":
        return ""
    w, h = CELEBA_SIZE if crop.startswith("celeba") else (1, 1)
    left, top, right, bottom = crop_box(crop, w, h, img_size)
    return json.dumps([left / w, top / h, right / w, bottom / h])


def read_metadata(path: str | Path) -> dict[str, str]:
    """The ``metadata_props`` of an ONNX file as a dict (weights are not loaded)."""
    onnx = require("onnx")
    model = onnx.load(str(path), load_external_data=False)
    return {p.key: p.value for p in model.metadata_props}


def _example(n_attrs: int, img_size: int, batch: int, seed: int = 0) -> tuple[Tensor, Tensor]:
    """A random batch: images uniform in [−1, 1], codes uniform in [−1.5, 1.5]."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(batch, 3, img_size, img_size, generator=g) * 2 - 1  # (N, 3, S, S)
    code = torch.rand(batch, n_attrs, generator=g) * 3 - 1.5  # (N, n_attrs)
    return x, code


def _to_onnx(graph: nn.Module, example, outputs, opset: int, dynamo: bool):
    """The ``onnx.ModelProto`` of ``graph`` with a dynamic batch axis, built in memory."""
    onnx = require("onnx")
    kw = dict(input_names=list(INPUTS), output_names=list(outputs), opset_version=opset)
    with warnings.catch_warnings():
        # the TorchScript exporter announces its deprecation on every call (torch ≥ 2.9)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        warnings.filterwarnings("ignore", "# The axis name")  # dynamo: one name, two inputs
        # InstanceNorm (model.stu_norm=in) normalises by the input's statistics, as it should
        warnings.filterwarnings("ignore", ".*operator 'instance_norm' is set to train=True")
        warnings.filterwarnings(  # and its checks of the shape, constant but for the batch
            "ignore",
            category=torch.jit.TracerWarning,
            module=r"torch\.nn\.(modules\.instancenorm|functional)",
        )
        if dynamo:
            require("onnxscript")
            batch = torch.export.Dim("batch", min=1)
            program = torch.onnx.export(
                graph, example, dynamo=True, dynamic_shapes=({0: batch}, {0: batch}),
                verbose=False, **kw,
            )  # fmt: skip
            return program.model_proto
        if "dynamo" in inspect.signature(torch.onnx.export).parameters:  # torch ≥ 2.5
            kw["dynamo"] = False
        buf = io.BytesIO()
        torch.onnx.export(
            graph, example, buf, dynamic_axes={n: {0: "batch"} for n in (*INPUTS, *outputs)},
            do_constant_folding=True, **kw,
        )  # fmt: skip
    return onnx.load_from_string(buf.getvalue())


def _document(model, n_attrs: int, img_size: int, metadata: Mapping[str, str]) -> None:
    """Doc strings on the graph's inputs and outputs, and the metadata, in place."""
    s = img_size
    docs = {
        "image": f"float32 (N, 3, {s}, {s}): RGB images in [-1, 1] (x / 127.5 - 1)",
        "att_diff": f"float32 (N, {n_attrs}): attribute code, see metadata label",
        "edited": f"float32 (N, 3, {s}, {s}): edited images in [-1, 1]",
        "mask": f"float32 (N, 1, {s}, {s}): where the edit took generated pixels, in (0, 1)",
    }
    for v in (*model.graph.input, *model.graph.output):
        v.doc_string = docs.get(v.name, "")
    model.producer_name, model.producer_version = "stgan", __version__
    model.doc_string = "STGAN attribute editing: (image, att_diff) -> edited; see docs/export.md"
    del model.metadata_props[:]
    for key, value in metadata.items():
        prop = model.metadata_props.add()
        prop.key, prop.value = str(key), str(value)


@torch.no_grad()
def check_onnx(
    model_bytes: bytes, G: nn.Module, n_attrs: int, img_size: int, batch: int = CHECK_BATCH
) -> float:
    """Run the exported model with ONNX Runtime (CPU) and ``G`` on one random batch.

    Returns:
        The largest absolute difference over every output.
    """
    ort = require("onnxruntime")
    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    x, code = _example(n_attrs, img_size, batch, seed=1)
    ours = _EditGraph(G).eval()(x, code)
    ours = ours if isinstance(ours, tuple) else (ours,)
    theirs = session.run(None, {"image": x.numpy(), "att_diff": code.numpy()})
    if len(theirs) != len(ours):
        return float("inf")
    return max(float(np.abs(t - o.numpy()).max()) for t, o in zip(theirs, ours, strict=True))


def export_onnx(
    G: nn.Module,
    n_attrs: int,
    img_size: int,
    path: str | Path,
    *,
    metadata: Mapping[str, str] | None = None,
    check: bool = True,
    opset: int = OPSET,
    dynamo: bool = False,
) -> ExportResult:
    """Write generator ``G`` (eval mode, on the CPU) as an ONNX file.

    Args:
        G: a :class:`stgan.models.Generator`; exported in eval mode (its mode is restored).
        n_attrs: columns of ``att_diff`` (the generator's ``n_attrs``).
        img_size: side S of the images.
        path: the ``.onnx`` file, written atomically; the caller checks it may be written
            (:func:`stgan.outputs.check_output_file`).
        metadata: ``metadata_props`` to record (see :func:`model_metadata`).
        check: compare ONNX Runtime with PyTorch on a random batch of :data:`CHECK_BATCH`
            first; nothing is written if they differ by more than :data:`CHECK_ATOL`.
        opset: ONNX opset version.
        dynamo: use the ``torch.export``-based exporter (needs onnxscript) instead of the
            TorchScript one, which is faster, quiet and present in every torch ≥ 2.4.

    Raises:
        UserError: onnx (or, with ``check``, onnxruntime) is missing, or the check failed.
    """
    require("onnx")
    if check:
        require("onnxruntime")
    if getattr(G, "n_attrs", n_attrs) != n_attrs:
        raise ValueError(f"n_attrs={n_attrs}, but the generator takes {G.n_attrs}")
    device, was_training = next(G.parameters()).device, G.training
    G.cpu().eval()
    try:
        outputs = output_names(G)
        graph = _EditGraph(G).eval()
        example = _example(n_attrs, img_size, CHECK_BATCH)
        model = _to_onnx(graph, example, outputs, opset, dynamo)
        _document(model, n_attrs, img_size, metadata or {})
        data = model.SerializeToString()
        error = check_onnx(data, G, n_attrs, img_size) if check else None
    finally:
        G.to(device).train(was_training)
    if error is not None and not error <= CHECK_ATOL:
        raise UserError(
            f"ONNX Runtime differs from PyTorch by up to {error:.3g} (more than {CHECK_ATOL:g}) "
            f"on a random batch; {path} was not written"
        )
    atomic_write_bytes(path, data)
    return ExportResult(Path(path), len(data), outputs, error)


def export_checkpoint(
    ckpt: str | Path, path: str | Path, *, check: bool = True, opset: int = OPSET
) -> ExportResult:
    """Export a run's generator (a run folder's newest checkpoint, or a ``.pt`` file) with
    the weights its outputs use and the metadata of :data:`META_KEYS`.

    Raises:
        UserError: a missing or corrupt checkpoint, a missing package, a failed check.
    """
    from stgan.config import from_dict
    from stgan.models import build_generator

    require("onnx")
    if check:
        require("onnxruntime")
    data = checkpoint.load(ckpt)
    cfg = from_dict(data["config"])
    names = data["attr_names"]
    G = build_generator(cfg.model, len(names))
    checkpoint.load_state(G, checkpoint.output_state(data), "generator", data["path"])
    meta = model_metadata(
        names,
        cfg.model.img_size,
        Coding.from_config(cfg),
        cfg.data.image_crop,
        cfg.data.resize,
        output_names(G),
    )
    meta["step"] = str(int(data["step"]))
    return export_onnx(
        G, len(names), cfg.model.img_size, path, metadata=meta, check=check, opset=opset
    )
