"""Tables as LaTeX that compiles anywhere (pdflatex, xelatex, lualatex): every symbol the
tables print (λ, ±, Δ, ∞, −, –) as a LaTeX command and every special character escaped, so
the output is plain ASCII and a table can be ``\\input`` into any paper."""

from __future__ import annotations

import pandas as pd

SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
           "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
MATH = {"λ": r"\lambda", "±": r"\pm", "Δ": r"\Delta", "∞": r"\infty", "−": "-", "→": r"\rightarrow", "≥": r"\geq",
        "≤": r"\leq", "×": r"\times", "·": r"\cdot"}
TEXT = {"–": "--", "—": "---"}
PREAMBLE = "\\usepackage{booktabs,multirow}"


def text(value) -> str:
    """One cell, header or caption as ASCII LaTeX; an unknown non-ASCII character is an error."""
    out, math = [], []
    for ch in str(value):
        if ch in MATH:
            math.append(MATH[ch] + (" " if MATH[ch][-1].isalpha() else ""))
            continue
        if math:  # adjacent symbols share one $…$
            out.append("$" + "".join(math).rstrip() + "$")
            math = []
        if ch in SPECIAL or ch in TEXT:
            out.append(SPECIAL.get(ch) or TEXT[ch])
        elif ch.isascii():
            out.append(ch)
        else:
            raise ValueError(f"no LaTeX for {ch!r} in {value!r}: add it to cxrloc.report.latex.MATH or TEXT")
    if math:
        out.append("$" + "".join(math).rstrip() + "$")
    return "".join(out)


def to_latex(table: pd.DataFrame, caption: str, label: str) -> str:
    """A booktabs table (``table`` float, multirow index) in ASCII LaTeX."""
    table = table.rename_axis(index=[text(n) if n else n for n in table.index.names])
    styler = table.style.format(text).format_index(text, axis=0).format_index(text, axis=1)
    return styler.to_latex(hrules=True, caption=text(caption), label=label, position="htbp",
                           position_float="centering", multirow_align="t", clines="skip-last;data")


def document(tables: list[str], title: str) -> str:
    """A stand-alone article with the tables inline (no ``\\input``: the file compiles alone)."""
    return ("\\documentclass{article}\n" + PREAMBLE + "\n\\usepackage[margin=2cm]{geometry}\n\\begin{document}\n"
            f"\\section*{{{text(title)}}}\n" + "\n".join(tables) + "\\end{document}\n")
