"""``stgan import-official``: the released TensorFlow STGAN (or its judge) as a project checkpoint.

The mapping lives in :mod:`stgan.official`, the checkpoint reader in
:mod:`stgan.tfcheckpoint`; this module only chooses the configuration, checks the outputs
and writes the files (docs/official.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from stgan.cli import options
from stgan.errors import UserError


def register(sub) -> None:
    p = sub.add_parser(
        "import-official",
        help="convert an official TensorFlow STGAN checkpoint (or its judge) into a run",
        description="Read a checkpoint of the official TensorFlow STGAN (csmliu/STGAN: the "
        "NAME.ckpt.index + NAME.ckpt.data-* files, no TensorFlow needed), map every variable "
        "onto this project's generator and discriminator, and write RUN/config.toml and "
        "RUN/checkpoints/step_N.pt, which `stgan edit`, `sample` and `eval` use. The model "
        "options come from the official setting.txt when it sits beside the checkpoint (or "
        "one folder up), else from the paper's defaults; --img-size, --attrs and --set "
        "override them. With --classifier, read the official attribute classifier "
        "(att_classification/checkpoints/128.ckpt) and write RUN/classifier.pt, a judge for "
        "`stgan eval --classifier`. Any variable missing, extra or of another shape is "
        "refused, naming it (docs/official.md).",
    )
    p.add_argument(
        "--ckpt",
        required=True,
        help="checkpoint folder (its `checkpoint` file or only *.index) or prefix (NAME.ckpt)",
    )
    p.add_argument("--out", required=True, help="run folder to write (a judge folder with "
                   "--classifier)")  # fmt: skip
    p.add_argument(
        "--classifier",
        action="store_true",
        help="the checkpoint is the official attribute classifier; write a judge",
    )
    p.add_argument("--img-size", type=options.positive_int, help="image side (default 128 or "
                   "setting.txt's)")  # fmt: skip
    p.add_argument(
        "--attrs",
        help="comma-separated attribute names in the checkpoint's order (default: setting.txt's, "
        "else the paper's 13; the judge: the 40 CelebA attributes)",
    )
    options.add_set(p)
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.set_defaults(func=cmd_import)


def _attrs(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    names = tuple(a.strip() for a in text.split(",") if a.strip())
    if not names:
        raise UserError("--attrs names no attribute")
    return names


def cmd_import(args: argparse.Namespace) -> int:
    from stgan.tfcheckpoint import Bundle

    bundle = Bundle(args.ckpt)
    inputs = [Path(f"{bundle.prefix}.index"), bundle.data_path(0)]
    if args.classifier:
        return _import_classifier(args, bundle, inputs)
    return _import_gan(args, bundle, inputs)


def _import_gan(args: argparse.Namespace, bundle, inputs: list[Path]) -> int:
    import dataclasses

    from stgan import config, official
    from stgan.checkpoint import ckpt_path, make_payload, save
    from stgan.imageio import atomic_write_bytes
    from stgan.models import build_discriminator, build_generator
    from stgan.outputs import check_output_dir

    cfg = config.load("celeba128", recipe="paper")
    settings = official.find_settings(bundle.prefix)
    if settings is not None:
        cfg = config.apply(cfg, official.settings_overrides(settings))
    cli: dict[str, dict] = {}
    if args.img_size:
        cli.setdefault("model", {})["img_size"] = args.img_size
    if args.attrs:
        cli.setdefault("data", {})["attrs"] = _attrs(args.attrs)
    cfg = config.apply(cfg, cli)
    if args.set:
        cfg = config.apply(cfg, config.parse_set(args.set), from_text=True)
    config.validate(cfg)
    m = cfg.model
    if m.upsample != "deconv" or m.mask:
        raise UserError("the official model has model.upsample=deconv and model.mask=false")

    n = len(cfg.data.attrs)
    G, D = build_generator(m, n), build_discriminator(m, n)
    ignore: set[str] = set()
    if m.use_stu and m.shortcut_layers < m.enc_layers - 1:  # official cells nobody reads
        full = dataclasses.replace(m, shortcut_layers=m.enc_layers - 1)
        ignore = official.unused_stu_names(build_generator(full, n), G)
    params = official.generator_params(G) + official.discriminator_params(D)
    run, step = Path(args.out), official.read_step(bundle)
    ck = ckpt_path(run, step)  # the outputs are checked before the weights are read
    names = ["config.toml", str(ck.relative_to(run))]
    check_output_dir(run, names, "--out", inputs, args.overwrite)
    got = official.load_official(bundle, {"G": G, "D": D}, params, ignore)
    G.load_state_dict(got.states["G"])
    D.load_state_dict(got.states["D"])
    save(ck, make_payload(step, cfg.to_dict(), cfg.data.attrs, G, D))
    atomic_write_bytes(run / "config.toml", config.to_toml(cfg).encode())
    print(
        f"imported {len(params)} variables of {bundle.prefix} (step {step}; "
        f"{got.skipped} optimizer/counter variables skipped"
        + (f", {got.ignored} of unused STU cells ignored" if got.ignored else "")
        + f"; settings: {settings or 'paper defaults'}) into {ck}"
    )
    return 0


def _import_classifier(args: argparse.Namespace, bundle, inputs: list[Path]) -> int:
    from stgan import official
    from stgan.attributes import CELEBA_ATTRS
    from stgan.judge import FILE_NAME, save_judge
    from stgan.models import Classifier
    from stgan.outputs import check_output_dir

    if args.set:
        raise UserError("--set applies to the generator import, not to --classifier")
    widths, fc_dim, n, size = official.classifier_shape(bundle)
    names = _attrs(args.attrs) or (CELEBA_ATTRS if n == len(CELEBA_ATTRS) else None)
    if names is None or len(names) != n:
        raise UserError(
            f"the classifier has {n} outputs; pass --attrs with {n} names in its output order"
        )
    if args.img_size and args.img_size != size:
        raise UserError(f"--img-size {args.img_size}: the classifier's dense layer fits {size} px")
    model = Classifier(n, size, widths, fc_dim)
    run = Path(args.out)
    check_output_dir(run, [FILE_NAME], "--out", inputs, args.overwrite)
    params = official.classifier_params(model)
    got = official.load_official(bundle, {"classifier": model}, params, hint="(--attrs)")
    model.load_state_dict(got.states["classifier"])
    save_judge(
        run / FILE_NAME,
        model,
        names,
        size,
        "celeba",
        widths,
        fc_dim,
        steps=got.step,
        data={"imported_from": str(bundle.prefix), "source": "official att_classification"},
    )
    print(f"imported the official classifier {bundle.prefix} ({n} attributes) into "
          f"{run / FILE_NAME}")  # fmt: skip
    return 0
