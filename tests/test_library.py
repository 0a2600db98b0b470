"""The spec library covers the catalogue entries this release promises, and generated/ is current."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from optc.pipeline import compile_file, library_specs
from optc.regen import expected_files
from tests.conftest import SPECS

# Catalogue number → spec files (shared/catalog.md, entries tagged E or E+C).
CATALOGUE = {
    1: ["sgd"],
    2: ["momentum", "sgdmomentum"],
    3: ["sgdnesterov"],
    4: ["asgd"],
    5: ["ons"],
    6: ["normalizedsgd"],
    7: ["adagrad"],
    8: ["adagradnorm"],
    9: ["adadelta"],
    10: ["rmsprop", "rmspropdebiased"],
    11: ["adam"],
    12: ["adamw"],
    13: ["amsgrad"],
    14: ["adamax"],
    15: ["yogi"],
    16: ["adafom"],
    17: ["adamx"],
    18: ["nadam", "nadamdozat"],
    19: ["padam"],
    20: ["radam"],
    22: ["adax"],
    23: ["adabelief"],
    24: ["adamp"],
    25: ["sgdp"],
    26: ["adamwn"],
    27: ["cadamw"],
    28: ["cadam"],
    29: ["adareg"],
    30: ["asgo"],
    32: ["adampower"],
    33: ["adabound"],
    34: ["adai"],
    35: ["lars"],
    36: ["lamb"],
    37: ["acclip"],
    38: ["prodigy"],
    39: ["adan"],
    40: ["ademamix"],
    41: ["adafactor"],
    42: ["amos"],
    43: ["rprop"],
    44: ["signsgd"],
    45: ["signum"],
    49: ["lion"],
    50: ["tiger"],
    51: ["grams"],
    31: ["dasgo"],
    59: ["muoncubic"],
    63: ["shampoo"],
    64: ["caspr"],
    65: ["muon"],
    66: ["moonlight"],
    67: ["polargrad"],
    68: ["polarmuon"],
    69: ["polarfirst"],
    70: ["adadiag"],
    71: ["adadiagplusplus"],
    76: ["soap"],
    60: ["muonpolarexpress"],
    72: ["cosmos"],
    73: ["dion"],
    94: ["adamwschedulefree", "adamwschedulefreeform2", "sgdschedulefree"],
    95: [
        "dadaptadagrad",
        "dadaptadamw",
        "dadaptdualaveraging",
        "dadaptgd",
        "dadaptlion",
        "dadaptsgd",
    ],
    96: ["adamplusplus"],
    97: ["adagradplusplus"],
    101: ["adagraft"],
    102: ["galore"],
    103: ["adammini"],
    104: ["adalayer"],
    105: ["adamc"],
    109: ["frankwolfe"],
    110: ["scg"],
    111: ["scion"],
    112: ["gluon"],
    113: ["adamwcosine", "sgdwsd", "sgdwsds"],
    116: ["heavyball"],
    117: ["dualaveraging"],
    122: ["splus"],
    123: ["shampoografted"],
    124: ["bemaadam"],
    125: ["muonw"],
    126: ["muonh"],
    127: [
        "adafacdiag",
        "adafacdiagmomentum",
        "adafacdiagplusplus",
        "adafacdiagplusplusmomentum",
    ],
    130: ["laprop"],
    131: ["adopt"],
    132: ["madgrad"],
    133: ["novograd"],
    134: ["nadamw"],
    135: ["lookaheadadam"],
    136: ["qhadam", "qhm"],
    137: ["clipadam", "sgdagc", "sgdclipblockrms", "sgdclipglobal", "sgdclipvalue"],
}

# Specs of methods the catalogue does not number (docs/catalog.md, "Additional specs").
ADDITIONAL = [
    "adamaxw",
    "adanorm",
    "avagrad",
    "fromage",
    "gravity",
    "stableadamw",
    "nero",
    "sm3",
]


def test_every_promised_catalogue_entry_has_a_spec():
    stems = {path.stem for path in library_specs()}
    missing = {n: s for n, specs in CATALOGUE.items() for s in specs if s not in stems}
    assert not missing


def test_catalogue_coverage_doc_lists_exactly_the_library():
    """docs/catalog.md names each spec file once, on its catalogue row or in the additional
    table, and nothing else."""
    doc = (SPECS.parent / "docs" / "catalog.md").read_text(encoding="utf-8")
    catalogue, additional = doc.split("\n## Additional specs\n")
    rows = {}
    for line in catalogue.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 6 and cells[0].isdigit():
            rows[int(cells[0])] = re.findall(r"specs/(\w+)\.opt", cells[5])
    assert len(rows) == 139
    assert {n: specs for n, specs in rows.items() if specs} == CATALOGUE
    extra = [s for line in additional.splitlines() for s in re.findall(r"specs/(\w+)\.opt", line)]
    assert extra == ADDITIONAL
    numbered = [s for specs in CATALOGUE.values() for s in specs]
    assert len(set(numbered + extra)) == len(numbered) + len(extra)  # each spec named once
    assert set(numbered + extra) == {p.stem for p in library_specs()}


@pytest.mark.parametrize("path", library_specs(), ids=lambda p: p.stem)
def test_spec_compiles_cleanly_with_citation_and_conventions(path):
    compiled = compile_file(path)
    program = compiled.program
    assert path.stem == program.snake_name
    assert program.cites and all(len(c) > 20 for c in program.cites)
    assert program.conventions
    assert not [w for w in compiled.warnings if "never used" in w.message]


def test_generated_code_is_current_and_deterministic():
    first = expected_files()
    second = expected_files()
    assert first == second  # byte-identical regeneration
    stale = [str(p) for p, text in first.items() if not p.exists() or p.read_text() != text]
    assert not stale, "run `optc regen`: " + ", ".join(stale)


def test_list_json_names_every_spec():
    result = subprocess.run(
        [sys.executable, "-m", "optc.cli", "list", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = json.loads(result.stdout)
    assert {row["file"].removeprefix("specs/") for row in rows} == {p.name for p in library_specs()}
    adamw = next(row for row in rows if row["name"] == "AdamW")
    assert adamw["torch"] == "optc.generated.torch.AdamW"
    assert adamw["jax"] == "optc.generated.jax.adamw"
