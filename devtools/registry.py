"""Which functions `/api/inngest` serves, read from their own configs: the JSON the SDK sends
to Inngest when the app syncs (`Function.get_config`), with its triggers, cancel rules, retries
and the `-failure` function that on_failure registers. No table of events here: a function added
to the endpoint, or a trigger changed, is picked up as Inngest would pick it up."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import Resolver404, resolve

from devtools.expressions import Matcher, compile_expression

# Inngest's default when a function does not say: 3 retries after the first attempt; more than
# 20 are cut to 20 (`pkg/consts/consts.go` MaxRetries, `pkg/inngest/function_step.go`).
DEFAULT_RETRIES = 3
MAX_RETRIES = 20


class RegistryError(Exception):
    pass


@dataclass(frozen=True)
class EventRule:
    event: str
    matcher: Matcher | None
    expression: str | None


@dataclass(frozen=True)
class FunctionSpec:
    id: str  # fully qualified: `<app id>-<function id>`
    name: str
    triggers: tuple[EventRule, ...]
    crons: tuple[str, ...]
    cancel: tuple[EventRule, ...]
    max_attempts: int

    @classmethod
    def from_config(cls, config: dict) -> FunctionSpec:
        triggers, crons = [], []
        for trigger in config.get("triggers") or []:
            if "cron" in trigger:
                crons.append(trigger["cron"])
            else:
                triggers.append(_rule(trigger["event"], trigger.get("expression")))
        step = (config.get("steps") or {}).get("step") or {}
        retries = (step.get("retries") or {}).get("attempts", DEFAULT_RETRIES)
        return cls(
            id=config["id"],
            name=config.get("name") or config["id"],
            triggers=tuple(triggers),
            crons=tuple(crons),
            cancel=tuple(_rule(c["event"], c.get("if")) for c in config.get("cancel") or []),
            max_attempts=min(retries, MAX_RETRIES) + 1,
        )

    def triggered_by(self, event: dict) -> bool:
        return any(_applies(rule, {"event": event}, event) for rule in self.triggers)

    def cancelled_by(self, event: dict, run_event: dict) -> bool:
        """Whether `event` cancels a run of this function started by `run_event` (in Inngest's
        cancel expressions `event` is the run's own event and `async` the incoming one)."""
        scope = {"event": run_event, "async": event}
        return any(_applies(rule, scope, event) for rule in self.cancel)


def _rule(event: str, expression: str | None) -> EventRule:
    return EventRule(event, compile_expression(expression) if expression else None, expression)


def _applies(rule: EventRule, scope: dict, event: dict) -> bool:
    if rule.event != event.get("name"):
        return False
    return rule.matcher is None or rule.matcher(scope)


@dataclass(frozen=True)
class Registry:
    app_id: str
    functions: tuple[FunctionSpec, ...]

    def get(self, fn_id: str) -> FunctionSpec:
        """By fully qualified id, or by the id given to `create_function`."""
        for spec in self.functions:
            if spec.id in (fn_id, f"{self.app_id}-{fn_id}"):
                return spec
        raise RegistryError(f"{fn_id!r} is not served at /api/inngest")

    def triggered_by(self, event: dict) -> list[FunctionSpec]:
        return [spec for spec in self.functions if spec.triggered_by(event)]


def served_registry(serve_path: str = "/api/inngest") -> Registry:
    """The functions this project's URLconf serves at `serve_path`, configured as an Inngest
    sync would register them."""
    try:
        view = resolve(serve_path).func
    except Resolver404:
        raise RegistryError(f"this URLconf does not serve {serve_path} (KORAI_ROLE=api?)") from None
    functions = getattr(view, "inngest_functions", None)
    app_id = getattr(view, "inngest_app_id", None)
    if functions is None or app_id is None:
        raise RegistryError(f"{serve_path} is not an Inngest endpoint served by core's serve()")
    configs = []
    for function in functions:
        config = function.get_config(f"http://127.0.0.1{serve_path}")
        configs.append(config.main)
        if config.on_failure is not None:
            configs.append(config.on_failure)
    specs = []
    for config in configs:
        as_json = config.to_dict()
        if isinstance(as_json, Exception):
            raise RegistryError(f"cannot read a function config: {as_json}")
        specs.append(FunctionSpec.from_config(as_json))
    return Registry(app_id=app_id, functions=tuple(specs))
