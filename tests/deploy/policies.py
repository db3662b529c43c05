"""The IAM module's policies as data: deploy/terraform/modules/iam/main.tf read with
python-hcl2, its ``aws_iam_policy_document`` statements evaluated with the module's inputs
given by the test, and a small IAM evaluator (Allow/Deny statements, ``*``/``?`` globs,
StringLike/StringEquals/ArnEquals conditions) to ask whether a statement set allows a call.

Only the expressions the module uses are understood (``var.x``, ``local.x``, ``values(var.x)``,
``[for a in var.x : "..."]``, ``aws_iam_role.x.arn``, string templates); anything else fails
loudly, so the module stays readable by this test.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2

MODULE = Path(__file__).resolve().parents[2] / "deploy" / "terraform" / "modules" / "iam"
_INTERPOLATION = re.compile(r"\$\{([^{}]+)\}")
_FOR = re.compile(r'^\[for (\w+) in (.+?) : "(.*)"\]$')


@dataclass(frozen=True)
class Statement:
    sid: str
    effect: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    not_resources: tuple[str, ...]
    conditions: tuple[tuple[str, str, tuple[str, ...]], ...]  # (test, variable, values)
    principals: tuple[str, ...] = ()  # trust policies: the service principals


@dataclass(frozen=True)
class Module:
    """The module's roles: each role's trust principals and policy statements."""

    documents: dict[str, list[Statement]]
    trust: dict[str, tuple[str, ...]]  # role -> its trust document's service principals
    policies: dict[str, list[str]]  # role -> the policy documents attached to it
    role_arns: dict[str, str]

    def statements(self, role: str) -> list[Statement]:
        return [s for doc in self.policies.get(role, []) for s in self.documents[doc]]


def _unquote(value: str) -> str:
    assert value.startswith('"'), value
    assert value.endswith('"'), value
    return value[1:-1]


class Evaluator:
    def __init__(self, variables: Mapping[str, Any], locals_: Mapping[str, str]) -> None:
        self.variables = variables
        self.locals = locals_
        self.role_names: dict[str, str] = {}
        self.scope: dict[str, str] = {}

    def value(self, raw: Any) -> Any:
        """An attribute's value: a list, a quoted template, or a ``${expression}``."""
        if isinstance(raw, list):
            return [self.value(item) for item in raw]
        assert isinstance(raw, str), raw
        if raw.startswith('"'):
            return self.template(_unquote(raw))
        if raw.startswith("${") and raw.endswith("}"):
            return self.expression(raw[2:-1])
        raise AssertionError(f"cannot read {raw!r}")

    def template(self, text: str) -> str:
        return _INTERPOLATION.sub(lambda m: str(self.expression(m.group(1))), text)

    def expression(self, text: str) -> Any:
        text = text.strip()
        if text in self.scope:
            return self.scope[text]
        if text.startswith("var."):
            return self.variables[text.removeprefix("var.")]
        if text.startswith("local."):
            return self.template(_unquote(self.locals[text.removeprefix("local.")]))
        if text.startswith("values(") and text.endswith(")"):
            return list(self.expression(text[len("values(") : -1]).values())
        if (found := re.fullmatch(r"aws_iam_role\.(\w+)\.arn", text)) is not None:
            name = self.template(_unquote(self.role_names[found.group(1)]))
            return f"arn:aws:iam::{self.variables['account_id']}:role/{name}"
        if (found := _FOR.match(text)) is not None:
            name, source, body = found.groups()
            out = []
            for item in self.expression(source):
                self.scope[name] = item
                out.append(self.template(body.replace('\\"', '"')))
            self.scope.pop(name, None)
            return out
        raise AssertionError(f"the IAM test cannot evaluate ${{{text}}}")


def _blocks(parsed: dict[str, Any], kind: str, type_: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for block in parsed.get(kind, []):
        for name, body in block.get(f'"{type_}"', {}).items():
            found[_unquote(name)] = body
    return found


def _reference(raw: str, prefix: str) -> str:
    # A resource made only in some configurations is counted: name[0] (the MWAA role).
    found = re.fullmatch(
        r"\$\{" + re.escape(prefix) + r"\.(\w+)(?:\[0\])?\.(?:json|id|name)\}", raw
    )
    assert found is not None, f"expected a {prefix} reference, got {raw!r}"
    return found.group(1)


def load(variables: Mapping[str, Any], module: Path = MODULE) -> Module:
    """The module's roles and policies, evaluated with ``variables`` as its inputs."""
    parsed: dict[str, Any] = {}
    for path in sorted(module.glob("*.tf")):
        for kind, blocks in hcl2.loads(path.read_text()).items():
            parsed.setdefault(kind, []).extend(blocks)
    locals_ = {k: v for block in parsed.get("locals", []) for k, v in block.items()}
    evaluator = Evaluator(variables, locals_)
    roles = _blocks(parsed, "resource", "aws_iam_role")
    evaluator.role_names = {name: body["name"] for name, body in roles.items()}
    documents = {
        name: [_statement(evaluator, raw) for raw in body.get("statement", [])]
        for name, body in _blocks(parsed, "data", "aws_iam_policy_document").items()
    }
    trust = {}
    for name, body in roles.items():
        doc = _reference(body["assume_role_policy"], "data.aws_iam_policy_document")
        trust[name] = tuple(p for s in documents[doc] for p in s.principals)
    policies: dict[str, list[str]] = {name: [] for name in roles}
    for body in _blocks(parsed, "resource", "aws_iam_role_policy").values():
        role = _reference(body["role"], "aws_iam_role")
        policies[role].append(_reference(body["policy"], "data.aws_iam_policy_document"))
    # Managed policies would hide their actions from this test: the module uses none.
    assert not _blocks(parsed, "resource", "aws_iam_role_policy_attachment")
    assert not _blocks(parsed, "resource", "aws_iam_policy")
    role_arns = {name: evaluator.expression(f"aws_iam_role.{name}.arn") for name in roles}
    return Module(documents, trust, policies, role_arns)


def _statement(evaluator: Evaluator, raw: dict[str, Any]) -> Statement:
    def strings(key: str) -> tuple[str, ...]:
        if key not in raw:
            return ()
        value = evaluator.value(raw[key])
        return tuple(value) if isinstance(value, list) else (value,)

    conditions = tuple(
        (
            evaluator.value(c["test"]),
            evaluator.value(c["variable"]),
            tuple(evaluator.value(c["values"])),
        )
        for c in raw.get("condition", [])
    )
    principals = tuple(
        identifier
        for p in raw.get("principals", [])
        for identifier in evaluator.value(p["identifiers"])
    )
    return Statement(
        sid=evaluator.value(raw["sid"]) if "sid" in raw else "",
        effect=evaluator.value(raw["effect"]) if "effect" in raw else "Allow",
        actions=strings("actions"),
        resources=strings("resources"),
        not_resources=strings("not_resources"),
        conditions=conditions,
        principals=principals,
    )


def _glob(pattern: str, value: str) -> bool:
    """IAM's wildcards: ``*`` any run of characters, ``?`` one; case-sensitive for ARNs."""
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


def _action_matches(pattern: str, action: str) -> bool:
    return fnmatch.fnmatchcase(action.lower(), pattern.lower())  # actions are case-insensitive


def _conditions_hold(statement: Statement, context: Mapping[str, str]) -> bool:
    for test, variable, values in statement.conditions:
        if variable not in context:
            return False  # a condition on a key the request does not carry does not hold
        if test == "StringLike":
            if not any(_glob(v, context[variable]) for v in values):
                return False
        elif test in ("StringEquals", "ArnEquals"):
            if context[variable] not in values:
                return False
        else:
            raise AssertionError(f"the IAM test cannot evaluate condition {test}")
    return True


def covers(statement: Statement, action: str, resource: str, context: Mapping[str, str]) -> bool:
    if not any(_action_matches(a, action) for a in statement.actions):
        return False
    if statement.not_resources:
        if any(_glob(r, resource) for r in statement.not_resources):
            return False
    elif not any(_glob(r, resource) for r in statement.resources):
        return False
    return _conditions_hold(statement, context)


def allowed(
    statements: list[Statement], action: str, resource: str, context: Mapping[str, str]
) -> bool:
    """IAM's rule within one principal's policies: an explicit Deny wins, else any Allow."""
    matching = [s for s in statements if covers(s, action, resource, context)]
    return bool(matching) and all(s.effect == "Allow" for s in matching)
