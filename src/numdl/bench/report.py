"""Reporting: the performance targets with their measured ratios (:func:`targets`) and the
report as Markdown (:func:`to_markdown`: header, machine limits, ops table, MNIST epoch
table, targets), with the formatting helpers they use.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

from numdl.bench.breakdown import PARTS
from numdl.bench.machine import STREAM_TEXT

#: The implementations of the ops table, in its column order.
IMPLS = ("numpy", "numba", "torch")


def _fmt_time(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "n/a"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def _fmt_timing(t: dict[str, Any] | None) -> str:
    if t is None:
        return "—"
    lo, hi = t["min_s"], t["max_s"]
    return f"{_fmt_time(t['median_s'])} [{_fmt_time(lo)}–{_fmt_time(hi)}]"


def _ratio(num: dict[str, Any] | None, den: dict[str, Any] | None) -> float | None:
    if num is None or den is None:
        return None
    return num["median_s"] / den["median_s"]


def _fmt_ratio(r: float | None) -> str:
    return "—" if r is None else f"{r:.2f}×"


def _pct(roof: float, t: dict[str, Any] | None) -> str:
    return "—" if t is None else f"{100 * roof / t['median_s']:.0f}%"


def _shape_text(shape: Sequence[int]) -> str:
    return "×".join(str(d) for d in shape)


def targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's performance targets, each with the measured value (when measured).

    ``measured`` comes from the medians (what ``met`` judges); ``best`` from the fastest
    rounds, the figure least disturbed by other load on a shared machine.
    """
    out: list[dict[str, Any]] = []

    def ratio(num: dict | None, den: dict | None, key: str) -> float | None:
        return None if num is None or den is None else num[key] / den[key]

    def add(what: str, num: Any, den: Any, goal: float, at_most: bool = False) -> None:
        value, best = ratio(num, den, "median_s"), ratio(num, den, "min_s")
        met = None if value is None else (value <= goal if at_most else value >= goal)
        sign = "≤" if at_most else "≥"
        out.append(
            {"target": what, "measured": value, "best": best, "goal": f"{sign} {goal}", "met": met}
        )

    epoch = report.get("epoch")
    if epoch:
        t = epoch["timings"]
        numba = t.get("numdl-numba")
        model = epoch["model"].split(",")[0].split(" ")[0]  # e.g. 784-512-10
        what = f"MNIST epoch ({model}, {epoch['model'].split(', ')[1]})"
        add(f"{what}: numdl-numba ÷ GEMM floor", numba, t.get("GEMM floor"), 1.10, True)
        add(f"{what}: PyTorch ÷ numdl-numba", t.get("torch"), numba, 2.5)
        add(f"{what}: numdl-numpy ÷ numdl-numba", t.get("numdl-numpy"), numba, 1.45)
        bn = t.get("numdl-numba BatchNorm")
        add(f"{what}: numdl-numba BatchNorm ÷ numdl-numba", bn, numba, 1.15, True)
    startup = report.get("startup")
    if startup:

        def secs(key: str) -> dict[str, float]:
            return {"median_s": statistics.median(startup[key]), "min_s": min(startup[key])}

        one = {"median_s": 1.0, "min_s": 1.0}  # seconds as a ratio to one second
        add("first float32 step, empty cache [s]", secs("first_step_cold_s"), one, 2.0, True)
        add(
            "import + first step, cached [s]",
            secs("import_and_first_step_cached_s"),
            one,
            0.5,
            True,
        )
        add(
            "every kernel, both dtypes, empty cache, 2 jobs [s]",
            secs("fill_cache_2_jobs_s"),
            one,
            10.0,
            True,
        )
    for row in report.get("ops", []):
        impls = row["impls"]
        if row["dtype"] != "float32":
            continue
        numba = impls.get("numba")
        if row["case"] == "cross_entropy_labels" and row["shape"] == [2048, 32000]:
            add("CE fwd+bwd 2048×32000: numpy ÷ numba", impls.get("numpy"), numba, 6)
            add("CE fwd+bwd 2048×32000: torch ÷ numba", impls.get("torch"), numba, 8)
        probes = row.get("bandwidth_probes_same_rounds")
        if row["op"] in ("momentum_update", "adamw_update") and row["shape"] == [25_000_000]:
            roof = {"median_s": row["roofline_s"], "min_s": row["roofline_s"]}
            if probes:
                best_gbs = max(p["gb_per_s_best_sample"] for p in probes.values())
                roof["min_s"] = row["bytes_moved"] / (best_gbs * 1e9)
            add(f"{row['case']} 25M: numba, fraction of bandwidth", roof, numba, 0.85)
    return out


def to_markdown(report: dict[str, Any]) -> str:
    """The report as Markdown: header, machine limits, ops, MNIST epoch, targets."""
    m = report["machine"]
    s = report["settings"]
    lines = [
        "# numdl bench",
        "",
        f"- date: {m['date']}; host {m['host']} ({m['platform']})",
        f"- CPU: {m['cpu']}; {m['logical_cpus']} logical CPUs ({m['usable_cpus']} usable); "
        + (f"{m['memory_gib']:.1f} GiB RAM" if m["memory_gib"] else "RAM unknown"),
        f"- threads: {m['threads']} for NumPy's BLAS, Numba and PyTorch alike",
        f"- BLAS (NumPy): {m['blas']}",
        f"- versions: Python {m['python']}, numdl {m['numdl']}, NumPy {m['numpy']}, "
        f"Numba {m['numba']} (threading layer {m['numba_threading_layer']}), "
        + (
            f"PyTorch {m['torch']} (BLAS {m['torch_blas']})"
            if m["torch"]
            else "PyTorch not installed"
        ),
        f"- timing: median of {s['repeats']} interleaved rounds [min–max]; ops {s['dtype']}"
        + ("; QUICK mode (fewer rounds, part of an epoch)" if s["quick"] else ""),
    ]
    load = m.get("other_load")
    if load:
        lines.append(
            "- other load during the run: other processes took "
            f"{100 * load['other_processes']:.0f}% of the CPUs' time, the hypervisor (steal) "
            f"{100 * load['steal']:.0f}%"
            f" ({load['wall_s']:.0f} s run)"
        )
        if load["other_processes"] + load["steal"] > 0.1:
            lines.append(
                "- **WARNING: the machine was busy with other work; absolute times (and "
                "multi-threaded code most) are slowed, ratios are only roughly comparable. "
                "Rerun on a quiet machine for numbers to publish.**"
            )
    lines.append("")
    limits = report.get("limits")
    if limits:
        bw = limits["bandwidth"]
        lines += [
            "## Machine limits (measured in this run)",
            "",
            "| measure | size | rate | median time [min–max] |",
            "| --- | --- | --- | --- |",
        ]
        for name, k in bw["kernels"].items():
            lines.append(
                f"| bandwidth: {STREAM_TEXT[name]} | {bw['n']:,} float32 | "
                f"{k['gb_per_s']:.1f} GB/s | {_fmt_timing(k['timing'])} |"
            )
        for name, g in limits["gemm"].items():
            label = f"GEMM {name}" if "^3" in name else f"GEMM {name} (MNIST step)"
            lines.append(
                f"| {label} | {_shape_text(g['shape'])} | {g['gflop_per_s']:.1f} GFLOP/s | "
                f"{_fmt_timing(g['timing'])} |"
            )
        lines += [
            "",
            f"Roofline bandwidth: {bw['gb_per_s']:.1f} GB/s (the best kernel, "
            f"{bw['roofline_kernel']}; bytes read + written, as the registry's `bytes_moved` "
            "counts them). The ops moving over 64 MiB are compared with these probes run again "
            "in the same rounds as the op (the GB/s shown in their roofline column).",
            "",
        ]
    ops = report.get("ops")
    if ops:
        impl_names = [i for i in IMPLS if any(i in r["impls"] for r in ops)]
        header = ["op", "shape", "dtype", *impl_names]
        header += [
            "numba vs numpy",
            "numba vs torch",
            "roofline",
            "% of roofline (" + " / ".join(impl_names) + ")",
        ]
        lines += [
            "## Hot-path ops (registry cases)",
            "",
            "Speed-ups are numpy (or torch) median ÷ numba median. Roofline: for the linear "
            "layers the same GEMMs timed bare on the same operands; for the memory-bound ops "
            "`bytes_moved` ÷ the best STREAM-like probe's bandwidth (probes interleaved with the "
            "op; ops small enough to run from cache are set against the DRAM figure and may "
            "exceed 100%). % of roofline = roofline time ÷ the implementation's median.",
            "",
            "| " + " | ".join(header) + " |",
            "| " + " | ".join("---" for _ in header) + " |",
        ]
        for r in ops:
            impls = r["impls"]
            cells = [
                f"`{r['case']}`",
                f"{r['shape_name']} {_shape_text(r['shape'])}",
                r["dtype"],
                *(_fmt_timing(impls.get(i)) for i in impl_names),
                _fmt_ratio(_ratio(impls.get("numpy"), impls.get("numba"))),
                _fmt_ratio(_ratio(impls.get("torch"), impls.get("numba"))),
                f"{_fmt_time(r['roofline_s'])} ({r['roofline_basis']})",
                " / ".join(_pct(r["roofline_s"], impls.get(i)) for i in impl_names),
            ]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    epoch = report.get("epoch")
    if epoch:
        t = epoch["timings"]
        floor = t.get("GEMM floor")
        data = epoch["dataset"] + (" — SYNTHETIC data, not MNIST" if epoch["synthetic"] else "")
        part = "one epoch" if epoch["full_epoch"] else "PART of an epoch"
        lines += [
            f"## MNIST training: {part} ({epoch['steps']} steps, {epoch['samples']:,} samples, "
            f"{data})",
            "",
            f"{epoch['model']}; same initial weights and batches for every implementation, "
            f"which take turns every {epoch['chunk_steps']} steps (shuffled order); an "
            "implementation's epoch time is the sum of its turns.",
            f"GEMM floor: the step's {epoch.get('gemms', 5)} matrix products alone (per layer "
            "A·W, Aᵀ·dZ, and dZ·Wᵀ but for the first) over the same batches; batch "
            "gathering: `np.take` of the batches alone (numdl's runners gather with the "
            "backend's `take_rows`).",
            "",
            "| implementation | time [min–max] | samples/s | ÷ GEMM floor | numpy ÷ it "
            "| torch ÷ it | mean loss, round 1 |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for name, timing in t.items():
            loss = epoch["first_round_mean_loss"].get(name)
            lines.append(
                f"| {name} | {_fmt_timing(timing)} | "
                f"{epoch['samples'] / timing['median_s']:,.0f} | "
                f"{_fmt_ratio(_ratio(timing, floor))} | "
                f"{_fmt_ratio(_ratio(t.get('numdl-numpy'), timing))} | "
                f"{_fmt_ratio(_ratio(t.get('torch'), timing))} | "
                + ("—" if loss is None else f"{loss:.4f}")
                + " |"
            )
        lines.append("")
    lines += cnn_markdown(report.get("cnn"))
    lines += breakdown_markdown(report.get("breakdown"))
    lines += startup_markdown(report.get("startup"))
    tg = report.get("targets")
    if tg:
        lines += [
            "## Targets",
            "",
            "Measured from the medians (what *met* judges); *best rounds* from the fastest "
            "samples of each (least disturbed by other load on the machine).",
            "",
            "| target | measured | best rounds | goal | met |",
            "| --- | --- | --- | --- | --- |",
        ]
        for row in tg:
            value = "—" if row["measured"] is None else f"{row['measured']:.2f}"
            best = "—" if row["best"] is None else f"{row['best']:.2f}"
            met = {True: "yes", False: "**no**", None: "not measured"}[row["met"]]
            lines.append(f"| {row['target']} | {value} | {best} | {row['goal']} | {met} |")
        lines.append("")
    return "\n".join(lines)


def cnn_markdown(cnn: dict[str, Any] | None) -> list[str]:
    """The CNN epoch (``numdl bench --only cnn``) as Markdown: the timings against the GEMM
    floors, and the peak memory of a training step."""
    if not cnn:
        return []
    t = cnn["timings"]
    floor, conv = t.get("GEMM floor"), t.get("GEMM floor, convolutions")
    data = cnn["dataset"] + (" — SYNTHETIC data, not MNIST" if cnn["synthetic"] else "")
    part = "one epoch" if cnn["full_epoch"] else "PART of an epoch"
    lines = [
        f"## MNIST training of the CNN: {part} ({cnn['steps']} steps, {cnn['samples']:,} "
        f"samples, {data})",
        "",
        f"{cnn['model']}; same initial weights and batches for every implementation, taking "
        f"turns every {cnn['chunk_steps']} steps. GEMM floor: the step's {cnn['gemms']} "
        f"matrix products alone ({cnn['gemm_flops_per_sample'] / 1e6:.1f} MFLOP a sample: "
        "per convolution the im2col products W·cols, dZ·colsᵀ and Wᵀ·dZ but for the first "
        "layer; per dense layer A·W, Aᵀ·dZ, dZ·Wᵀ; each with the kernels' shapes and operand "
        "layouts); the convolutions' part of it on its own.",
        "",
        "| implementation | time [min–max] | samples/s | ÷ GEMM floor | ÷ conv GEMMs "
        "| numpy ÷ it | torch ÷ it | mean loss, round 1 |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, timing in t.items():
        loss = cnn["first_round_mean_loss"].get(name)
        lines.append(
            f"| {name} | {_fmt_timing(timing)} | {cnn['samples'] / timing['median_s']:,.0f} | "
            f"{_fmt_ratio(_ratio(timing, floor))} | {_fmt_ratio(_ratio(timing, conv))} | "
            f"{_fmt_ratio(_ratio(t.get('numdl-numpy'), timing))} | "
            f"{_fmt_ratio(_ratio(t.get('torch'), timing))} | "
            + ("—" if loss is None else f"{loss:.4f}")
            + " |"
        )
    memory = cnn.get("step_memory_batch_256") or {}
    if memory:
        lines += [
            "",
            "Peak memory of one training step at batch 256 (tracemalloc: NumPy's "
            "allocations; PyTorch's allocator is not traced):",
            "",
            "| backend | first step (allocates the buffers) | next step | parameters + gradients |",
            "| --- | --- | --- | --- |",
        ]
        for name, m in memory.items():
            mib = [m[k] / 2**20 for k in ("first_step_bytes", "steady_step_bytes")]
            lines.append(
                f"| {name} | {mib[0]:.1f} MiB | {mib[1]:.1f} MiB | "
                f"{m['params_and_grads_bytes'] / 2**20:.1f} MiB |"
            )
    lines.append("")
    return lines


def breakdown_markdown(breakdown: dict[str, Any] | None) -> list[str]:
    """The training-step breakdown as a Markdown table: µs per step, per backend."""
    if not breakdown:
        return []
    backends = breakdown["backends"]
    summary = breakdown["summary"]
    data = " (SYNTHETIC data)" if breakdown["synthetic"] else ""
    lines = [
        f"## Where a training step's time goes{data}",
        "",
        f"Per step, median over rounds of {breakdown['steps']} steps (µs); each part timed "
        "on its own in the step's order, on the same batches as the epoch "
        "(`numdl bench --only breakdown`; how: `numdl.bench.breakdown`).",
        "",
        "| part | " + " | ".join(backends) + " |",
        "| --- | " + " | ".join("---" for _ in backends) + " |",
    ]

    def row(label: str, values: list[float]) -> None:
        lines.append(f"| {label} | " + " | ".join(f"{v:,.1f}" for v in values) + " |")

    for part in PARTS:
        row(part, [summary[b]["parts_us"][part] for b in backends])
    row("Python and dispatch (null backend)", [summary[b]["dispatch_us"] for b in backends])
    row(
        "unaccounted (library − parts − dispatch)", [summary[b]["unaccounted_us"] for b in backends]
    )
    row(
        "**step as the library runs it, with gathering**",
        [summary[b]["epoch_step_us"] for b in backends],
    )
    row("GEMMs in the step", [summary[b]["gemms_in_context_us"] for b in backends])
    row("GEMM floor (the five GEMMs back to back)", [summary[b]["gemm_floor_us"] for b in backends])
    row(
        "between BLAS calls (in-step GEMMs − floor)",
        [summary[b]["between_blas_us"] for b in backends],
    )
    lines.append(
        "| **÷ GEMM floor** | "
        + " | ".join(f"**{summary[b]['ratio_to_floor']:.2f}×**" for b in backends)
        + " |"
    )
    lines.append("")
    return lines


def startup_markdown(startup: dict[str, Any] | None) -> list[str]:
    """The start-up figures as a Markdown table: median [min–max] seconds."""
    if not startup:
        return []
    rows = {
        "first_step_cold_s": "first float32 training step, empty Numba cache",
        "import_and_first_step_cached_s": "`import numdl` + numba backend + first step, cached",
        "fill_cache_1_job_s": "`numdl compile` (every kernel, both dtypes), empty cache, 1 process",
        "fill_cache_2_jobs_s": "`numdl compile`, empty cache, 2 processes",
        "train_first_step_no_warm_up_s": "`numdl train`: start to end of the first step, "
        "empty cache, no warm-up",
        "train_first_step_warm_up_s": "`numdl train`: the same, compiling while MNIST loads",
        "train_first_step_warm_up_data_loaded_s": "(of which reading MNIST)",
    }
    lines = [
        "## Start-up (fresh interpreters, `numdl bench --only startup`)",
        "",
        "| what | seconds [min–max] |",
        "| --- | --- |",
    ]
    for key, what in rows.items():
        v = startup.get(key)
        if not v:
            continue
        lines.append(f"| {what} | {statistics.median(v):.2f} [{min(v):.2f}–{max(v):.2f}] |")
    return [*lines, ""]
