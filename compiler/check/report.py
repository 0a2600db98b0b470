"""``optc check``: the compile warnings, the domain report and the property report of a spec."""

from __future__ import annotations

from dataclasses import dataclass

from optc.check.domains import DomainReport, domain_report
from optc.check.properties import PropertyReport, property_report
from optc.pipeline import Compiled


@dataclass
class CheckReport:
    compiled: Compiled
    domains: DomainReport
    properties: PropertyReport

    @property
    def name(self) -> str:
        return self.compiled.program.name

    def to_json(self) -> dict:
        return {
            "spec": self.name,
            "file": self.compiled.program.file,
            "warnings": [
                {"message": w.message, "line": w.span.line if w.span else None, "hint": w.hint}
                for w in self.compiled.warnings
            ],
            "domains": self.domains.to_json(),
            "properties": self.properties.to_json(),
        }

    def render(self) -> str:
        source = self.compiled.program.source
        warnings = [w.render(source) for w in self.compiled.warnings]
        return "\n".join([*warnings, self.domains.render(), self.properties.render()])

    def summary(self) -> dict:
        """One row of ``optc check --summary``."""
        checks = self.domains.checks
        return {
            "spec": self.name,
            "risky_ops": len(checks),
            "proved_safe": sum(c.status == "proved safe" for c in checks),
            "warnings": len(self.compiled.warnings),
            "scale_invariant": self.properties.scale_invariance,
            "memory": self.properties.memory,
            "ops_per_step": self.properties.elementwise_ops,
        }


def check_report(compiled: Compiled) -> CheckReport:
    program = compiled.program
    return CheckReport(compiled, domain_report(program, budget=30.0), property_report(program))
