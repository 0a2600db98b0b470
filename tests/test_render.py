"""LaTeX and Markdown rendering: exact output for the cases that used to render wrongly, and a
syntax check (balanced groups, known commands, no double scripts, no nested cases) of every
spec's rendering and of random expressions."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from optc.diagnostics import SpecError
from optc.pipeline import compile_file, compile_text, library_specs
from optc.render.latex import latex_aligned, latex_name, latex_statements
from optc.render.markdown import markdown

# -- a small LaTeX checker ----------------------------------------------------------------------

_GREEK_NAMES = """
    alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi pi rho sigma tau
    upsilon phi chi psi omega Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega
"""
GREEK = set(_GREEK_NAMES.split())
KNOWN = GREEK | {
    "leftarrow", "frac", "sqrt", "left", "right", "cdot", "infty", "mathrm", "operatorname",
    "text", "land", "lor", "lnot", "le", "ge", "ne", "exp", "log", "min", "max",
    "hat", "bar", "tilde", "sum", "quad", "cos", "sin", "top",
}  # fmt: skip
ENVIRONMENTS = {"aligned", "cases"}
DELIMITERS = {"(", ")", "|", "[", "]", ".", "\\lVert", "\\rVert", "\\langle", "\\rangle"}
TOKEN = re.compile(r"\\(?:begin|end)\{\w+\}|\\[A-Za-z]+|\\.|\s+|.", re.S)


def latex_errors(tex: str) -> list[str]:
    """What a LaTeX math renderer (amsmath, KaTeX) would reject or render wrongly in ``tex``."""
    errors = []
    tokens = [tok for tok in TOKEN.findall(tex) if not tok.isspace()]
    # per brace depth: scripts already attached to the current atom, and whether the next item
    # is a script's argument
    frames = [{"scripts": set(), "pending": False, "script_arg": False, "lefts": 0}]
    envs: list[tuple[str, tuple[int, int]]] = []  # open environments, where each opened
    depth = 0  # open \left ... \right pairs
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        frame = frames[-1]
        if tok == "{":
            frames.append(
                {"scripts": set(), "pending": False, "script_arg": frame["pending"], "lefts": 0}
            )
            frame["pending"] = False
        elif tok == "}":
            if len(frames) == 1:
                errors.append("unbalanced `}`")
                i += 1
                continue
            closed = frames.pop()
            if closed["lefts"]:
                errors.append("`\\left` without `\\right` in a group")
            if not closed["script_arg"]:
                frames[-1]["scripts"] = set()
        elif tok in ("^", "_"):
            if tok in frame["scripts"]:
                errors.append(f"double {'superscript' if tok == '^' else 'subscript'}")
            if frame["pending"]:
                errors.append(f"script `{tok}` without an argument")
            frame["scripts"].add(tok)
            frame["pending"] = True
        else:
            if frame["pending"]:
                frame["pending"] = False
            else:
                frame["scripts"] = set()
            environment = re.fullmatch(r"\\(begin|end)\{(\w+)\}", tok)
            if environment:
                kind, env = environment.groups()
                if env not in ENVIRONMENTS:
                    errors.append(f"unknown environment {env}")
                if kind == "begin":
                    where = (len(frames), depth)
                    if env == "cases" and ("cases", where) in envs:  # cases right in a row
                        errors.append("nested cases")
                    envs.append((env, where))
                elif not envs or envs.pop()[0] != env:
                    errors.append(f"\\end{{{env}}} does not close the open environment")
            elif tok.startswith("\\") and tok[1:].isalpha():
                name = tok[1:]
                if name not in KNOWN:
                    errors.append(f"unknown command {tok}")
                if name in ("left", "right"):
                    delim = tokens[i + 1] if i + 1 < len(tokens) else ""
                    if delim not in DELIMITERS:
                        errors.append(f"{tok} followed by {delim!r}")
                    frame["lefts"] += 1 if name == "left" else -1
                    depth += 1 if name == "left" else -1
                    if frame["lefts"] < 0:
                        errors.append("`\\right` without `\\left`")
                    i += 1
            elif tok in ("&", "\\\\") and not envs:
                errors.append(f"`{tok}` outside an environment")
        i += 1
    if len(frames) != 1:
        errors.append("unbalanced `{`")
    if frames[0]["lefts"]:
        errors.append("unbalanced `\\left`/`\\right`")
    if envs:
        errors.append(f"unclosed environment {envs[-1][0]}")
    return errors


def test_checker_catches_the_usual_mistakes():
    assert latex_errors(r"\frac{a}{b} + x_{1}^{2}") == []
    assert "double superscript" in latex_errors(r"10^{-8}^{t}")
    assert "unbalanced `{`" in latex_errors(r"\frac{a}{b")
    assert "unknown command \\foo" in latex_errors(r"\foo x")
    assert "nested cases" in latex_errors(
        r"\begin{cases} a & x \\ \begin{cases} b & y \end{cases} & z \end{cases}"
    )
    assert "unbalanced `\\left`/`\\right`" in latex_errors(r"\left(a")
    # a select inside a parenthesized value is readable; one right in a row is not
    assert (
        latex_errors(
            r"\begin{cases} a + \left(\begin{cases} b & y \end{cases}\right) & x \end{cases}"
        )
        == []
    )


# -- names --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "latex"),
    [
        ("lr", r"\eta"),
        ("theta", r"\theta"),
        ("weight_decay", r"\lambda"),
        ("beta1", r"\beta_{1}"),
        ("beta_1", r"\beta_{1}"),
        ("m_hat", r"\hat{m}"),
        ("g_bar", r"\bar{g}"),
        ("theta0", r"\theta_{0}"),
        # the glitches of issue 5
        ("t_alpha_beta3", r"t_{\alpha,\beta_{3}}"),
        ("rho_inf", r"\rho_{\infty}"),
        ("m1_hat", r"\hat{m}_{1}"),
        # compound names
        ("v_max_hat", r"\hat{v}_{\mathrm{max}}"),
        ("beta1_decay", r"\beta_{1,\mathrm{decay}}"),
        ("beta3_t", r"\beta_{3,t}"),
        ("tau_alpha", r"\tau_{\alpha}"),
        ("eta_plus", r"\eta_{+}"),
        ("eta_minus", r"\eta_{-}"),
        ("eps_root", r"\epsilon_{\mathrm{root}}"),
        ("g_prev", r"g_{\mathrm{prev}}"),
        ("x_long_name", r"x_{\mathrm{long\ name}}"),
        ("step_size", r"\mathrm{step\_size}"),
        ("gp2", r"\mathrm{gp}_{2}"),
        ("lamb", r"\mathrm{lamb}"),
        ("lr_hat", r"\hat{\eta}"),
        ("weight_decay_bar", r"\bar{\lambda}"),
    ],
)
def test_latex_name(name, latex):
    assert latex_name(name) == latex
    assert latex_errors(latex) == []


# -- expressions ------------------------------------------------------------------------------

HEAD = """optimizer T
cite "test"
convention bias_correction "none"
hyper lr = 1e-3 in (0, inf)
hyper beta1 = 0.9 in [0, 1)
state m = 0
step
"""


def statements(step: str) -> list[str]:
    return latex_statements(compile_text(HEAD + step + "\n", checks=False).program)


def test_else_chains_flatten_into_one_cases():
    (line, *_) = statements("  x = where(g > 0, lr, where(g < 0, beta1, 1))\n  theta <- theta - x")
    assert line == (
        r"x = \begin{cases} \eta & \text{if } g > 0 \\ \beta_{1} & \text{else if } g < 0 \\ "
        r"1 & \text{otherwise} \end{cases}"
    )


def test_then_chains_join_their_conditions():
    (line, *_) = statements(
        "  x = if t > 1 then (if t > 2 then 1 else 2) else 3\n  theta <- theta - x * g"
    )
    assert line == (
        r"x = \begin{cases} 1 & \text{if } t > 1 \land t > 2 \\ 2 & \text{else if } t > 1 \\ "
        r"3 & \text{otherwise} \end{cases}"
    )


def test_cases_inside_a_product_are_parenthesized():
    *_, line = statements("  theta <- theta - lr * where(g > 0, g, 0)")
    assert line == (
        r"\theta \leftarrow \theta - \eta \left(\begin{cases} g & \text{if } g > 0 \\ "
        r"0 & \text{otherwise} \end{cases}\right)"
    )


@pytest.mark.parametrize(
    ("expr", "latex"),
    [
        ("lr * -g", r"\eta \left(-g\right)"),
        ("theta - (-g)", r"\theta - \left(-g\right)"),
        ("g + -g", r"g + \left(-g\right)"),
        ("-g^2", r"-g^{2}"),
        ("(-2)^t * g", r"\left(-2\right)^{t} g"),
        ("1e-8 * g", r"10^{-8} g"),
        ("2.5e-5 * g", r"2.5 \cdot 10^{-5} g"),
        ("g * 1e-8^t", r"g \left(10^{-8}\right)^{t}"),
        ("0.5 * 0.96^t * g", r"0.5 \cdot 0.96^{t} g"),
        ("((1 - beta1) / (1 + beta1))^2 * g", r"\left(\frac{1 - \beta_{1}}{1 + \beta_{1}}\right)^{2} g"),
        ("(g^2)^beta1", r"\left(g^{2}\right)^{\beta_{1}}"),
        ("where(g > 0 and t > 1, g, 0)", r"\begin{cases} g & \text{if } g > 0 \land t > 1 \\ 0 & \text{otherwise} \end{cases}"),
        ("where(not (g > 0) or t > 1, g, 0)", r"\begin{cases} g & \text{if } \lnot \left(g > 0\right) \lor t > 1 \\ 0 & \text{otherwise} \end{cases}"),
    ],
)  # fmt: skip
def test_expression(expr, latex):
    (line, _) = statements(f"  x = {expr}\n  theta <- theta - lr * x")
    assert line == f"x = {latex}"
    assert latex_errors(line) == []


# -- the spec library -----------------------------------------------------------------------------


def _library():
    return [compile_file(path, checks=False).program for path in library_specs()]


PROGRAMS = {program.name: program for program in _library()}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_every_spec_renders_valid_latex(name):
    program = PROGRAMS[name]
    tex = latex_aligned(program)
    assert latex_errors(tex) == [], tex
    page = markdown(program)
    for math in re.findall(r"\$\$(.*?)\$\$|\$(.*?)\$", page, re.S):
        snippet = (math[0] or math[1]).replace(r"\|", "|")
        assert latex_errors(snippet) == [], snippet


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_names_of_a_spec_render_distinctly(name):
    program = PROGRAMS[name]
    names = {"theta", "g", "t", *(h.name for h in program.hypers)}
    names |= {s.name for s in program.states} | {b.display for b in program.body}
    symbols: dict[str, str] = {}
    for spec_name in sorted(names):
        symbol = latex_name(spec_name)
        assert symbol not in symbols, f"{spec_name} and {symbols[symbol]} both render {symbol}"
        symbols[symbol] = spec_name


def test_fixed_glitches_in_the_library():
    ademamix = latex_aligned(PROGRAMS["AdEMAMix"])
    assert r"\max\left(t_{\alpha,\beta_{3}}, 1\right)" in ademamix
    assert r"&\hat{m}_{1} = \frac{m_{1}}{1 - \beta_{1}^{t}}" in ademamix
    radam = latex_aligned(PROGRAMS["RAdam"])
    assert r"&\rho_{\infty} = \frac{2}{1 - \beta_{2}} - 1" in radam
    assert "inf}" not in radam
    rprop = latex_aligned(PROGRAMS["Rprop"])
    assert (
        r"&\mathrm{step\_size} \leftarrow \operatorname{clip}\left(\mathrm{step\_size} "
        r"\left(\begin{cases} \eta_{+} & \text{if } s > 0 \\ \eta_{-} & \text{else if } s < 0 \\ "
        r"1 & \text{otherwise} \end{cases}\right), \mathrm{min\_step\_size}, "
        r"\mathrm{max\_step\_size}\right)"
    ) in rprop
    adamx = latex_aligned(PROGRAMS["AdamX"])
    assert (
        r"\max\left(\left(\frac{1 - \beta_{t}}{1 - \beta_{\mathrm{prev}}}\right)^{2} \hat{v}, v\right)"
    ) in adamx


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_every_hyper_has_a_description(name):
    for hyper in PROGRAMS[name].hypers:
        assert hyper.doc, f"{name}.{hyper.name} has no description"
        assert not hyper.doc.endswith("."), f"{name}.{hyper.name}: a phrase, no final period"
        assert len(hyper.doc) <= 72, f"{name}.{hyper.name}: keep descriptions to one short line"


def test_markdown_lists_descriptions_and_counterparts():
    page = markdown(PROGRAMS["AdamW"])
    assert "| hyper | symbol | default | domain | description |" in page
    assert (
        "| `weight_decay` | $\\lambda$ | 0.01 | [0, inf) | "
        "decoupled weight decay coefficient, multiplied by lr |"
    ) in page
    assert (
        "- `torch.optim.AdamW`: hypers `betas` = (`beta1`, `beta2`); "
        "states `exp_avg` = `m`, `exp_avg_sq` = `v`; fixed `amsgrad` = false"
    ) in page


def test_markdown_escapes_bars_in_cells():
    page = markdown(PROGRAMS["ACClip"])
    (row,) = [line for line in page.splitlines() if line.startswith("| `eps`")]
    assert r"\|m\|" in row and row.count(" | ") == 4


# -- random expressions -------------------------------------------------------------------------

LEAVES = ["g", "theta", "m", "lr", "beta1", "t", "0.5", "2", "1e-8", "(-1.5)"]


@st.composite
def expressions(draw, depth: int):
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from(LEAVES))
    kind = draw(st.sampled_from(["bin", "bin", "neg", "pow", "call", "where", "if"]))
    a, b = draw(expressions(depth - 1)), draw(expressions(depth - 1))
    match kind:
        case "bin":
            return f"({a} {draw(st.sampled_from('+-*/'))} {b})"
        case "neg":
            return f"-{a}"
        case "pow":
            return f"({a})^{draw(st.sampled_from(['2', 'beta1', '(t - 1)', '(-1)']))}"
        case "call":
            fn = draw(st.sampled_from(["sqrt", "abs", "sign", "exp", "log", "min", "max", "clip"]))
            args = {"min": 2, "max": 2, "clip": 3}.get(fn, 1)
            return f"{fn}({', '.join([a, b, a][:args])})"
        case "where":
            op = draw(st.sampled_from(["<", "<=", ">", ">=", "==", "!="]))
            return f"where({a} {op} {b}, {b}, {a})"
        case _:
            cond = draw(st.sampled_from(["t > 1", "t == 2 and lr < 1", "not (t > 3) or t < 2"]))
            return f"(if {cond} then {a} else {b})"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions(4))
def test_random_expressions_render_valid_latex(expr):
    try:
        lines = statements(f"  x = {expr}\n  theta <- theta - lr * x")
    except SpecError:  # a constant folded outside a function's domain: sqrt(-1.5)
        assume(False)
    for line in lines:
        assert latex_errors(line) == [], line


# -- docs/language.md -------------------------------------------------------------------------

LANGUAGE_DOC = library_specs()[0].parent.parent / "docs" / "language.md"


def test_language_doc_example_compiles_with_descriptions_and_counterparts():
    text = LANGUAGE_DOC.read_text()
    (example,) = re.findall(r"```\n(optimizer .*?)```", text, re.S)
    program = compile_text(example, "language.md", checks=False).program
    assert all(h.doc for h in program.hypers)
    torch_adam = program.counterpart("torch")
    assert torch_adam.hypers == {"betas": ("beta1", "beta2")}
    assert torch_adam.states == {"exp_avg": "m", "exp_avg_sq": "v"}
    assert torch_adam.fixed == {"amsgrad": False}
    assert program.counterpart("jax").library == "optax.adam"
    # the continued hyper line of the descriptions section
    (continued,) = re.findall(r"\n  (hyper initial_accumulator_value.*?)\n  ```", text, re.S)
    spec = example.replace("\nstate m", continued.replace("\n  ", "\n") + "\nstate m", 1)
    (*_, hyper) = compile_text(spec, "continued.opt", checks=False).program.hypers
    assert hyper.doc == "initial value of the sum of squared gradients"
