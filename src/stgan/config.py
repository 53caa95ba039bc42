"""Typed, frozen configuration: defaults, shipped configs, variant presets, overrides.

Every default of the project lives here (style: one home per concept). The defaults are the
paper's settings (reference §2–§5); ``configs/tiny.toml`` shrinks them for laptops and tests.

A config is loaded with :func:`load` from a shipped name (``celeba128``, ``tiny``) or a TOML
file path, then a variant preset (``stgan``, ``attgan``, ...), then ``section.key=value``
overrides. A file or override may only name fields that exist, with values of the field's
type; anything else is a :class:`~stgan.errors.UserError` naming the field.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
from dataclasses import dataclass, field, fields, replace
from importlib import resources
from pathlib import Path
from typing import Any, get_type_hints

from stgan.attributes import DEFAULT_ATTRS
from stgan.errors import UserError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass(frozen=True)
class ModelConfig:
    """Generator and discriminator shapes (reference §2, §3) and the variant switches."""

    img_size: int = 128  # square image side; a multiple of 2**enc_layers (64, 128, 256, 384)
    enc_dim: int = 64  # channels of the first encoder layer, doubled per layer
    dec_dim: int = 64  # decoder hidden layer i has min(dec_dim * 2**(dec_layers-1-i), 1024) ch.
    dis_dim: int = 64  # channels of the first discriminator layer
    dis_fc_dim: int = 1024  # hidden width of each discriminator head
    enc_layers: int = 5  # encoder depth (downsamplings)
    dec_layers: int = 5  # decoder depth (upsamplings)
    dis_layers: int = 5  # discriminator trunk depth (last map ≥ 2x2)
    shortcut_layers: int = 4  # skip connections, deepest first (0 = AttGAN-ED, 4 = UNet/STGAN)
    inject_layers: int = 4  # decoder layers followed by a tiled copy of the attribute code
    use_stu: bool = True  # Selective Transfer Units on the skips (False: plain concatenation)
    stu_state: str = "stu"  # state passed to the shallower STU: stu | gru | direct
    stu_kernel: int = 3  # kernel of the STU gates (eqs. 3, 4, 6)
    label: str = "diff"  # generator input: diff (att_t - att_s, STGAN) | target (AttGAN)
    # --- switches beyond the paper (off = the paper's architecture; docs/recipes.md) ---
    upsample: str = "deconv"  # decoder upsampling: deconv (paper, 4x4 s2) | resize (nearest+3x3)
    mask: bool = False  # output m·G(x) + (1−m)·x through a predicted mask m (4th channel)
    # --- options of the official code (train.py); defaults = the paper's model (docs/official.md)
    stu_dim: int = 0  # STU widths min(stu_dim·2^i, 1024); 0 = the encoder's (official: own, 64)
    stu_norm: str = "none"  # after the STU gate convolutions: none (paper) | bn | in
    stu_inject_layers: int = 4  # the state STU i passes on carries the code for i < this
    multi_inputs: int = 1  # encoder layers 1..multi_inputs-1 also see the image, subsampled
    one_more_conv: int = 0  # 0 | 1 | 3: last upsampling to dec_dim/4 ch., then a k×k conv


@dataclass(frozen=True)
class DataConfig:
    """Where images and labels come from and how they are prepared (reference §5)."""

    dataset: str = "synthetic"  # "synthetic" or a folder (CelebA layout, or images + CSV)
    attrs: tuple[str, ...] = DEFAULT_ATTRS  # attributes to edit, by name
    crop: str = "celeba"  # celeba (official box: 148x148 at 40,15 at 64 px, else 170x170 at
    #   26,3 of 178x218; scaled to the image) | celeba-170 (170 box at every size) | none | center
    resize: str = "pil"  # pil (Pillow bicubic, antialiased) | tf-bicubic (official TF1 resize)
    split: str = "auto"  # auto | stgan (file order 182000/637/rest) | partition | fraction
    test_fraction: float = 0.1  # test share of split = fraction (auto: a folder not full CelebA)
    cache: bool = False  # decode once into a uint8 memory-mapped cache (no JPEG decoding)
    cache_dir: str = ""  # where the cache lives; "" = <dataset>/.stgan-cache
    synthetic_n: int = 20000  # images in the in-memory synthetic training set
    synthetic_seed: int = 0  # seed of the synthetic faces (same seed, same faces)
    num_workers: int = 2  # data-loading worker processes (0 = in the main process)

    @property
    def image_crop(self) -> str:
        """The crop the training images really got: ``none`` for the synthetic faces (rendered
        square and framed), else ``crop``. Photos to edit or judge must be cropped alike."""
        return "none" if self.dataset == "synthetic" else self.crop


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation schedule and loss weights (reference §4)."""

    batch_size: int = 32
    n_critic: int = 5  # D steps per G step, each on a fresh batch
    epochs: int = 200  # one epoch = n_train // (batch_size * (n_critic + 1)) G iterations
    decay_epoch: int = 100  # lr is divided by 10 every this many epochs (official init_epoch)
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    w_gp: float = 10.0  # gradient penalty weight
    w_att_d: float = 1.0  # attribute BCE weight in L_D
    w_att_g: float = 10.0  # attribute BCE weight in L_G
    w_rec: float = 100.0  # reconstruction L1 weight in L_G
    thres_int: float = 0.5  # 0/1 labels become ±thres_int
    test_int: float = 1.0  # test-time value of a flipped attribute (att_diff = ±1.5)
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    log_every: int = 10  # G iterations between scalar logs (the only host syncs)
    sample_every: int = 500  # G iterations between sample grids
    ckpt_every: int = 1000  # G iterations between checkpoints
    keep_ckpts: int = 3  # newest checkpoints kept (final one always kept)
    n_samples: int = 8  # rows of the sample grid
    # --- the training procedure beyond the paper (defaults = the paper; docs/recipes.md) ---
    adv_loss: str = "wgan"  # wgan (paper) | nsgan (non-saturating logistic, softplus)
    penalty: str = "wgan-gp"  # wgan-gp (paper: (‖∇D(x̂)‖−1)² on interpolates) | r1 (‖∇D(x)‖²)
    penalty_every: int = 1  # lazy penalty: every k critic steps, weighted ×k
    w_att_fake: float = 0.0  # D's attribute BCE on G's edits toward their *source* labels
    #   (0 = the paper: D's attribute head learns from real images only; docs/recipes.md)
    lr_d_scale: float = 1.0  # D's learning rate = lr × this (two time-scale update rule)
    warmup: int = 0  # G iterations of linear learning-rate warm-up (0 = none)
    ema_decay: float = 0.0  # EMA of G's weights per G iteration, used for every output (0 = off)
    bn_eval: str = "running"  # eval BN statistics: running (paper) | recalibrate (on train batches)
    bn_batches: int = 16  # training batches averaged by bn_eval = recalibrate
    w_mask: float = 0.0  # weight of the mask's mean (sparsity) in L_G (model.mask only)
    flip_share: float = 0.0  # share of training targets that flip one random attribute
    #   (0 = the paper: every target a permuted label row; attributes.training_targets)
    target_int: str = "fixed"  # strength of the training targets G edits to: fixed (paper:
    #   ±thres_int) | uniform (±U(0, 2·thres_int) per entry, as AttGAN's official train.py)
    #   | test (changed entries at ±test_int, the test strength: att_diff ±1.5; kept ±thres_int)
    target_int_min: float = 0.0  # uniform: the strength's lower end, a share of 2·thres_int
    #   (0 = AttGAN's U(0, 2·thres_int); 0.5 = U(thres_int, 2·thres_int))
    sync_bn: bool = False  # torchrun: G's BatchNorm over the global batch, not per process
    #   (docs/distributed.md; one process: no effect)
    # --- the fast path: how an iteration runs on the device, not what it computes
    #   (stgan.fastpath; auto = on for CUDA, off elsewhere: the plain fp32 eager path) ---
    amp: str = "auto"  # auto | bf16 | off: bf16 autocast of the forward passes
    channels_last: str = "auto"  # auto | on | off: NHWC weights and activations
    adam: str = "auto"  # auto (fused on CUDA, else default) | default (torch's) | foreach | fused
    cuda_graph: str = "auto"  # auto | on | off: whole iterations replayed from CUDA graphs
    compile: bool = False  # torch.compile of G's blocks (opt-in; measured slower in issue 7)


@dataclass(frozen=True)
class Config:
    """The whole configuration of a run: ``model``, ``data`` and ``train`` sections."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    preset: str = "stgan"  # the variant preset last applied (informational)
    recipe: str = "paper"  # the training recipe applied (RECIPES): paper | fast

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


#: Variant presets: model fields that define each generator of the paper's comparison.
PRESETS: dict[str, dict[str, Any]] = {
    "stgan": dict(shortcut_layers=4, inject_layers=4, use_stu=True, stu_state="stu", label="diff"),
    "stgan-target": dict(
        shortcut_layers=4, inject_layers=4, use_stu=True, stu_state="stu", label="target"
    ),
    "stgan-gru": dict(shortcut_layers=4, inject_layers=4, use_stu=True, stu_state="gru"),
    "stgan-direct": dict(shortcut_layers=4, inject_layers=4, use_stu=True, stu_state="direct"),
    # AttGAN family (paper §4.2, Fig. 4): target vector, one attribute injection, 0-4 skips.
    "attgan-ed": dict(shortcut_layers=0, inject_layers=1, use_stu=False, label="target"),
    "attgan": dict(shortcut_layers=1, inject_layers=1, use_stu=False, label="target"),
    "attgan-2s": dict(shortcut_layers=2, inject_layers=1, use_stu=False, label="target"),
    "attgan-unet": dict(shortcut_layers=4, inject_layers=1, use_stu=False, label="target"),
    # The official repository's AttGAN command (csmliu/STGAN README: --use_stu false
    # --shortcut_layers 1 --inject_layers 1) keeps train.py's default label = diff.
    "attgan-official": dict(shortcut_layers=1, inject_layers=1, use_stu=False, label="diff"),
}

#: Training recipes: overrides of the training procedure, applied over the config file (and
#: under the preset and ``--set``). ``paper`` changes nothing: the paper's recipe bit for bit.
#: ``fast`` is measured in docs/recipes.md (quality per compute on short runs).
RECIPES: dict[str, dict[str, dict[str, Any]]] = {
    "paper": {},
    "fast": {
        "model": dict(upsample="resize"),
        "train": dict(
            n_critic=1,
            ema_decay=0.99,
            bn_eval="recalibrate",
            w_mask=1.0,
            # StyleGAN2 / StarGAN v2: non-saturating loss, lazy R1 on real images (every 4th
            # critic step, ×4), Adam betas (0, 0.99): 68.2 % vs 41.2 % accuracy on the real
            # 64 px subset at 720 CPU s (docs/recipes.md)
            adv_loss="nsgan",
            penalty="r1",
            w_gp=0.5,
            penalty_every=4,
            beta1=0.0,
            beta2=0.99,
            # D's attribute head also told that G's edits keep their source labels: 57.8 % vs
            # 46.5 % on the real subset at 240 CPU s, level at 720 s (docs/recipes.md)
            w_att_fake=0.5,
            # half of the targets flip one attribute (the rest permute the batch's labels, as
            # the paper): 77.6 % vs 69.1 % on the real subset at 720 CPU s (fifth round)
            flip_share=0.5,
        ),
    },
}

_CHOICES = {
    ("model", "stu_state"): ("stu", "gru", "direct"),
    ("model", "label"): ("diff", "target"),
    ("model", "stu_norm"): ("none", "bn", "in"),
    ("data", "crop"): ("celeba", "celeba-170", "none", "center"),
    ("data", "resize"): ("pil", "tf-bicubic"),
    ("data", "split"): ("auto", "stgan", "partition", "fraction"),
    ("model", "upsample"): ("deconv", "resize"),
    ("train", "adv_loss"): ("wgan", "nsgan"),
    ("train", "penalty"): ("wgan-gp", "r1"),
    ("train", "bn_eval"): ("running", "recalibrate"),
    ("train", "target_int"): ("fixed", "uniform", "test"),
    ("train", "amp"): ("auto", "bf16", "off"),
    ("train", "channels_last"): ("auto", "on", "off"),
    ("train", "adam"): ("auto", "default", "foreach", "fused"),
    ("train", "cuda_graph"): ("auto", "on", "off"),
}

SHIPPED = ("celeba128", "tiny")
# (field, low, high) of the numeric train fields; bounds open where listed below
_RANGES = (
    ("lr", 0.0, 1.0),
    ("beta1", 0.0, 1.0),
    ("beta2", 0.0, 1.0),
    ("w_gp", 0.0, 1e6),
    ("w_att_d", 0.0, 1e6),
    ("w_att_g", 0.0, 1e6),
    ("w_rec", 0.0, 1e6),
    ("w_mask", 0.0, 1e6),
    ("w_att_fake", 0.0, 1e6),
    ("thres_int", 0.0, 1.0),
    ("test_int", 0.0, 10.0),
    ("lr_d_scale", 0.0, 1e3),
    ("ema_decay", 0.0, 1.0),
    ("flip_share", 0.0, 1.0),
    ("target_int_min", 0.0, 1.0),
)
_OPEN_LOW = ("lr", "thres_int", "test_int", "lr_d_scale")
_OPEN_HIGH = ("beta1", "beta2", "ema_decay")
_TOP_LEVEL = ("preset", "recipe")


def _sections() -> dict[str, type]:
    return {f.name: f.type for f in fields(Config) if f.name not in _TOP_LEVEL}


def _coerce(section: str, key: str, value: Any, from_text: bool) -> Any:
    """Convert ``value`` to the type of ``section.key``; raise UserError naming the field."""
    cls = {"model": ModelConfig, "data": DataConfig, "train": TrainConfig}[section]
    hints = get_type_hints(cls)
    if key not in hints:
        valid = ", ".join(f"{section}.{k}" for k in hints)
        raise UserError(f"unknown config field {section}.{key}; valid fields: {valid}")
    typ = hints[key]
    name = f"{section}.{key}"
    try:
        if typ is bool:
            if isinstance(value, bool):
                out = value
            elif from_text and str(value).lower() in ("1", "true", "yes", "on"):
                out = True
            elif from_text and str(value).lower() in ("0", "false", "no", "off"):
                out = False
            else:
                raise ValueError
        elif typ is int:
            if isinstance(value, bool) or (isinstance(value, float) and not from_text):
                raise ValueError
            out = int(value) if not from_text else int(str(value), 0)
        elif typ is float:
            if isinstance(value, bool):
                raise ValueError
            out = float(value)
        elif typ is str:
            if not isinstance(value, str):
                raise ValueError
            out = value
        else:  # tuple[str, ...]
            if from_text:
                value = [v.strip() for v in str(value).split(",") if v.strip()]
            if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
                raise ValueError
            out = tuple(value)
    except (TypeError, ValueError):
        tname = getattr(typ, "__name__", "comma-separated list of names")
        raise UserError(f"config field {name} expects {tname}, got {value!r}") from None
    choices = _CHOICES.get((section, key))
    if choices and out not in choices:
        raise UserError(f"config field {name} must be one of {', '.join(choices)}, got {out!r}")
    return out


def apply(cfg: Config, overrides: dict[str, dict[str, Any]], from_text: bool = False) -> Config:
    """Return ``cfg`` with ``{section: {key: value}}`` overrides applied and validated."""
    secs = _sections()
    new = {}
    for section, values in overrides.items():
        if section in _TOP_LEVEL:
            continue
        if section not in secs or not isinstance(values, dict):
            raise UserError(f"unknown config section {section!r}; valid: {', '.join(secs)}")
        conv = {k: _coerce(section, k, v, from_text) for k, v in values.items()}
        new[section] = replace(getattr(cfg, section), **conv)
    return replace(cfg, **new)


def apply_preset(cfg: Config, name: str) -> Config:
    """Apply a variant preset (a key of :data:`PRESETS`)."""
    if name not in PRESETS:
        raise UserError(f"unknown preset {name!r}; valid presets: {', '.join(PRESETS)}")
    return replace(cfg, model=replace(cfg.model, **PRESETS[name]), preset=name)


def apply_recipe(cfg: Config, name: str) -> Config:
    """Apply a training recipe (a key of :data:`RECIPES`) over ``cfg``."""
    if name not in RECIPES:
        raise UserError(f"unknown recipe {name!r}; valid recipes: {', '.join(RECIPES)}")
    return replace(apply(cfg, RECIPES[name]), recipe=name)


def parse_set(items: list[str]) -> dict[str, dict[str, str]]:
    """Parse ``section.key=value`` strings into ``{section: {key: value}}``."""
    out: dict[str, dict[str, str]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        section, dot, name = key.strip().partition(".")
        if not sep or not dot or not name:
            raise UserError(f"malformed --set {item!r}; expected section.key=value")
        out.setdefault(section, {})[name] = value.strip()
    return out


def read_file(path: str | Path) -> dict[str, Any]:
    """Read a TOML (or JSON) config file into nested dicts."""
    p = Path(path)
    if not p.is_file():
        raise UserError(
            f"config {str(path)!r} is neither a shipped config ({', '.join(SHIPPED)}) "
            "nor a readable file"
        )
    try:
        text = p.read_text(encoding="utf-8")
        return json.loads(text) if p.suffix == ".json" else tomllib.loads(text)
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise UserError(f"cannot parse config file {p}: {e}") from None


def shipped_text(name: str) -> str:
    return resources.files("stgan").joinpath(f"configs/{name}.toml").read_text(encoding="utf-8")


def load(
    name_or_path: str | None = None,
    preset: str | None = None,
    overrides: list[str] | None = None,
    recipe: str | None = None,
) -> Config:
    """Build a config: defaults ← shipped name or file ← recipe ← preset ← ``--set``.

    ``recipe`` None takes the file's own ``recipe`` key (``paper`` when it has none).
    """
    cfg = Config()
    data: dict[str, Any] = {}
    if name_or_path:
        if name_or_path in SHIPPED:
            data = tomllib.loads(shipped_text(name_or_path))
        else:
            data = read_file(name_or_path)
        cfg = apply(cfg, data)
        if "preset" in data:
            cfg = apply_preset(cfg, str(data["preset"]))
            cfg = apply(cfg, data)  # explicit fields of the file win over its preset
    cfg = apply_recipe(cfg, recipe or str(data.get("recipe", "paper")))
    if preset:
        cfg = apply_preset(cfg, preset)
    if overrides:
        cfg = apply(cfg, parse_set(overrides), from_text=True)
    validate(cfg)
    return cfg


def from_dict(data: dict[str, Any]) -> Config:
    """Rebuild a config saved with :meth:`Config.to_dict` (checkpoints, run folders)."""
    cfg = apply(Config(), {k: v for k, v in data.items() if k not in _TOP_LEVEL})
    return replace(
        cfg, preset=str(data.get("preset", "stgan")), recipe=str(data.get("recipe", "paper"))
    )


def validate(cfg: Config) -> None:
    """Cross-field checks; raise UserError naming the field."""
    m, t = cfg.model, cfg.train
    if m.img_size < 2**m.enc_layers or m.img_size % 2**m.enc_layers:
        raise UserError(
            f"model.img_size={m.img_size} must be a multiple of 2**model.enc_layers "
            f"({2**m.enc_layers}), e.g. 64, 128, 256 or 384"
        )
    if m.dec_layers != m.enc_layers:
        raise UserError("model.dec_layers must equal model.enc_layers")
    if not 0 <= m.shortcut_layers < m.dec_layers:
        raise UserError(f"model.shortcut_layers must be in 0..{m.dec_layers - 1}")
    if not 0 <= m.inject_layers < m.dec_layers:
        raise UserError(f"model.inject_layers must be in 0..{m.dec_layers - 1}")
    if m.dis_layers < 1 or m.img_size < 2 ** (m.dis_layers + 1) or m.img_size % 2**m.dis_layers:
        # InstanceNorm over a 1x1 map would erase the trunk's output
        raise UserError(
            f"model.dis_layers={m.dis_layers} needs model.img_size ≥ {2 ** (m.dis_layers + 1)} "
            "(the last map must be at least 2x2 for InstanceNorm); lower model.dis_layers"
        )
    for k in ("enc_dim", "dec_dim", "dis_dim", "dis_fc_dim"):
        if getattr(m, k) < 1:
            raise UserError(f"model.{k} must be ≥ 1")
    if t.batch_size < 2:
        raise UserError("train.batch_size must be ≥ 2 (targets permute the batch's rows)")
    if t.n_critic < 1 or t.epochs < 1 or t.keep_ckpts < 1:
        raise UserError("train.n_critic, train.epochs and train.keep_ckpts must be ≥ 1")
    for k in ("log_every", "sample_every", "ckpt_every", "n_samples"):
        if getattr(t, k) < 1:
            raise UserError(f"train.{k} must be ≥ 1")
    for sec in ("model", "data", "train"):  # every number finite (nan/inf never train)
        for k, v in dataclasses.asdict(getattr(cfg, sec)).items():
            if isinstance(v, float) and not math.isfinite(v):
                raise UserError(f"config field {sec}.{k} must be a finite number, got {v!r}")
    for k, lo, hi in _RANGES:
        v = getattr(t, k)
        if not lo <= v <= hi or (k in _OPEN_LOW and v == lo) or (k in _OPEN_HIGH and v == hi):
            left = "(" if k in _OPEN_LOW else "["
            right = ")" if k in _OPEN_HIGH else "]"
            raise UserError(f"config field train.{k}={v!r} must be in {left}{lo}, {hi}{right}")
    if t.penalty_every < 1 or t.bn_batches < 1 or t.warmup < 0:
        raise UserError("train.penalty_every and train.bn_batches must be ≥ 1, train.warmup ≥ 0")
    if m.stu_kernel < 1 or m.stu_kernel % 2 == 0:
        raise UserError(f"model.stu_kernel must be an odd number ≥ 1, got {m.stu_kernel}")
    if m.stu_dim < 0 or m.stu_inject_layers < 0 or not 1 <= m.multi_inputs <= m.enc_layers:
        raise UserError(
            "model.stu_dim and model.stu_inject_layers must be ≥ 0, "
            f"model.multi_inputs in 1..{m.enc_layers}"
        )
    if m.one_more_conv not in (0, 1, 3) or (m.one_more_conv and m.dec_dim < 4):
        raise UserError("model.one_more_conv must be 0, 1 or 3 (and needs model.dec_dim ≥ 4)")
    d = cfg.data
    if d.num_workers < 0 or d.synthetic_n < 1:
        raise UserError("data.num_workers must be ≥ 0 and data.synthetic_n ≥ 1")
    if not cfg.data.attrs:
        raise UserError("data.attrs must name at least one attribute")
    if not 0.0 < cfg.data.test_fraction < 1.0:
        raise UserError("data.test_fraction must be in (0, 1)")


def to_toml(cfg: Config) -> str:
    """Serialise a config as TOML (written into every run folder as ``config.toml``)."""
    lines = [f'preset = "{cfg.preset}"', f'recipe = "{cfg.recipe}"']
    for sec in ("model", "data", "train"):
        lines.append(f"\n[{sec}]")
        for k, v in dataclasses.asdict(getattr(cfg, sec)).items():
            lines.append(f"{k} = {_toml_value(v)}")
    return "\n".join(lines) + "\n"


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (tuple, list)):
        return "[" + ", ".join(json.dumps(x) for x in v) + "]"
    return json.dumps(v)
