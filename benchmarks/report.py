"""The text table and the PNG plot of an `optc bench` result (``suite.collect``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

COLUMNS = (
    "spec",
    "implementation",
    "ms/step",
    "GB/s",
    "copy BW",
    "state MiB",
    "peak extra MiB",
    "1st call s",
    "x lib",
    "x lib any",
)


def _f(x: float | None, fmt: str) -> str:
    return "-" if x is None else format(x, fmt)


def rows_of(entry: dict[str, Any]) -> list[list[str]]:
    out = []
    for r in entry["rows"]:
        if not r["available"]:
            continue
        out.append(
            [
                entry["spec"],
                r["label"],
                _f(r["median_ms"], ".2f"),
                _f(r["gb_per_s"], ".1f"),
                _f(None if r["copy_bw_fraction"] is None else 100 * r["copy_bw_fraction"], ".0f")
                + "%",
                _f(r["state_bytes"] / 2**20, ".1f"),
                _f(None if r["peak_extra_bytes"] is None else r["peak_extra_bytes"] / 2**20, ".1f"),
                _f(r["first_call_s"], ".3f"),
                _f(r["ratio"], ".2f") + ("x" if r["ratio"] is not None else ""),
                _f(r["ratio_any"], ".2f") + ("x" if r["ratio_any"] is not None else ""),
            ]
        )
    return out


def unavailable_of(entry: dict[str, Any]) -> list[str]:
    return [
        f"  {entry['spec']}: {r['label']} unavailable: {r['reason']}"
        for r in entry["rows"]
        if not r["available"]
    ]


def header(r: dict[str, Any]) -> list[str]:
    cb = r["copy_bandwidth"]
    m = r["machine"]
    return [
        f"optc bench on {r['device']} (jax on {r['jax_device']}): {r['workload']['description']}",
        f"{r['repeats']} timed steps per implementation (median), round-robin, after the first "
        f"call and {r['warmup']} warm-up step(s); {m['cpu_count']} CPUs, {m['torch_threads']} "
        f"torch threads, 1-min load {m['load_average_1min']['start']:.2f} -> "
        f"{m['load_average_1min']['end']:.2f}",
        f"copy bandwidth (dst.copy_(src), read + write): {cb['start']['gb_per_s']:.1f} GB/s at "
        f"start, {cb['end']['gb_per_s']:.1f} GB/s at end",
        "versions: " + ", ".join(f"{k} {v}" for k, v in r["versions"].items()),
        "x lib: ms / the fastest library implementation on the same framework (torch: "
        "torch.optim, pytorch_optimizer, heavyball; jax: optax); x lib any: on either framework",
    ]


def format_table(cells: list[list[str]], head: tuple[str, ...] = COLUMNS) -> list[str]:
    widths = [max(len(row[i]) for row in [list(head), *cells]) for i in range(len(head))]

    def line(row: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i < 2 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()

    return [line(list(head)), line(["-" * w for w in widths]), *map(line, cells)]


def format_report(r: dict[str, Any]) -> str:
    cells = [row for e in r["specs"] for row in rows_of(e)]
    out = [*header(r), "", *format_table(cells)]
    part = [
        f"  {e['spec']}: {e['workload']}"
        for e in r["specs"]
        if e.get("workload", r["workload"]["description"]) != r["workload"]["description"]
    ]
    if part:
        out += ["", "timed on part of the workload (the tensors its libraries take):", *part]
    missing = [line for e in r["specs"] for line in unavailable_of(e)]
    if missing:
        out += ["", "not timed:", *missing]
    out += ["", f"memory: {r['memory']}", f"total {r['total_s']:.1f} s"]
    return "\n".join(out)


def format_markdown(r: dict[str, Any]) -> str:
    cells = [row for e in r["specs"] for row in rows_of(e)]
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(c) + " |" for c in cells]
    return "\n".join(lines)


PATH_COLORS = {
    "readable": "#d62728",
    "foreach": "#ff7f0e",
    "fused": "#9467bd",
    "jax": "#2ca02c",
    "library": "#7f7f7f",
}


def plot(r: dict[str, Any], path: str | Path) -> Path:
    """Horizontal bars: each implementation's time as a ratio to the fastest library
    implementation of its spec on the same framework (log scale, 1 marked); one group per spec."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    labels, values, colors = [], [], []
    for e in r["specs"]:
        for row in e["rows"]:
            ratio = row.get("ratio") if row["available"] else None
            if ratio is None:
                continue
            labels.append(f"{e['spec']}: {row['label']}")
            values.append(ratio)
            colors.append(PATH_COLORS["library" if row["source"] != "optc" else row["path"]])
    path = Path(path)
    fig, ax = plt.subplots(figsize=(9, 0.6 + 0.22 * max(len(labels), 1)))
    y = list(range(len(labels)))[::-1]
    ax.barh(y, values, color=colors)
    ax.set_yticks(y, labels, fontsize=7)
    ax.set_xscale("log")
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_xlabel("time / fastest library implementation (same framework), log scale")
    ax.set_title(f"optc bench on {r['device']}: {r['workload']['description']}", fontsize=9)
    ax.legend(
        handles=[Patch(color=c, label=n) for n, c in PATH_COLORS.items()],
        fontsize=7,
        loc="lower right",
    )
    ax.set_ylim(-1, len(labels))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
