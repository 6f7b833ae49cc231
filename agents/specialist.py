"""A specialist agent: a bounded tool-calling loop over its own tools and prompt.

Reads run at once and their results go back to the model. Writes never run here: they become
proposals (validated and permission-checked by the tool layer) for the policy gate. What the
tools return reaches the model inside <data> tags, as information rather than instructions.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from agents.llm_errors import LLMError
from agents.llm_types import ChatModel, Message
from agents.state import AgentReport, ProposedWrite, SpecialistName, ToolTrace
from agents.toolselect import select_tools
from agents.untrusted import Provenance
from prompts import render_prompt
from tools.catalogue import REGISTRY
from tools.context import Actor
from tools.errors import ToolFailure
from tools.service import CRMService

# Each specialist sees only its own tools: fewer choices for a small model, and less prompt.
TOOLSETS: dict[SpecialistName, tuple[str, ...]] = {
    "sales": (
        "search_accounts",
        "get_account",
        "list_opportunities",
        "get_opportunity",
        "forecast",
        "update_opportunity",
        "apply_discount",
        "log_activity",
        "create_task",
        "send_email",
        "create_opportunity",
        "search_knowledge",
        "recall_account_memory",
    ),
    "service": (
        "list_tickets",
        "get_ticket",
        "account_health",
        "create_ticket",
        "update_ticket",
        "escalate_ticket",
        "grant_sla_credit",
        "search_knowledge",
        "recall_account_memory",
    ),
    "delivery": (
        "list_projects",
        "get_project",
        "check_capacity",
        "create_project",
        "schedule_go_live",
        "search_knowledge",
        "recall_account_memory",
    ),
}

MAX_TOOL_RESULT_CHARS = 6000


def tool_schemas(name: SpecialistName) -> list[dict[str, Any]]:
    return [REGISTRY[tool].openai_schema() for tool in TOOLSETS[name]]


def as_data(tool: str, payload: dict[str, Any]) -> str:
    """Tool output for the model: delimited as data, trimmed to a bounded size."""
    text = json.dumps(payload, ensure_ascii=False, default=str)
    if len(text) > MAX_TOOL_RESULT_CHARS:
        text = text[:MAX_TOOL_RESULT_CHARS] + " …(truncated)"
    return f'<data source="{tool}">{text}</data>'


@dataclass
class SpecialistRun:
    name: SpecialistName
    crm: CRMService
    model: ChatModel
    actor: Actor
    thread_id: str
    turn: int
    max_steps: int = 5
    # Overrides for experiments (the single-agent baseline of benchmarks/bench_agents.py).
    toolset: tuple[str, ...] | None = None
    prompt_name: str | None = None
    # The user's words versus data seen this run, for flagging data-sourced write arguments.
    _provenance: Provenance = field(default_factory=lambda: Provenance(()), init=False, repr=False)

    # Whether the router linked the request to an account (then search_accounts is not shown).
    account_known: bool = False

    @property
    def tools(self) -> tuple[str, ...]:
        """Every tool this agent may call."""
        return self.toolset if self.toolset is not None else TOOLSETS[self.name]

    def shown_tools(self, request: str) -> tuple[str, ...]:
        """The tools whose schemas this request's model calls carry (see agents.toolselect)."""
        if self.toolset is not None:
            return self.toolset
        kinds = {tool: REGISTRY[tool].kind for tool in self.tools}
        return select_tools(self.name, self.tools, kinds, request, account_known=self.account_known)

    async def run(
        self, request: str, history: list[dict[str, str]], context: str, emit: Any
    ) -> AgentReport:
        messages: list[Message] = [
            {"role": "system", "content": self._system_prompt(context)},
            *history,
            {"role": "user", "content": request},
        ]
        schemas = [REGISTRY[tool].openai_schema() for tool in self.shown_tools(request)]
        trace: list[ToolTrace] = []
        proposals: list[ProposedWrite] = []
        seen_writes: set[str] = set()
        said = [m.get("content") or "" for m in history if m.get("role") == "user"]
        self._provenance = Provenance([request, *said])
        self._provenance.add_data("context", context)
        for _step in range(self.max_steps):
            try:
                result = await self.model.chat(agent=self.name, messages=messages, tools=schemas)
            except LLMError as exc:
                return AgentReport(
                    agent=self.name,
                    reply="",
                    proposals=proposals,
                    trace=trace,
                    error=exc.user_message,
                )
            if not result.tool_calls:
                reply = (result.text or "").strip()
                if _not_an_answer(reply, self.tools):
                    # Small models sometimes end with an empty or half-written tool call: say
                    # plainly what the tools found rather than nothing.
                    reply = _plain_findings(trace)
                else:
                    reply = _with_records(reply, trace, messages)
                return AgentReport(agent=self.name, reply=reply, proposals=proposals, trace=trace)
            messages.append(result.assistant_message())
            for call in result.tool_calls:
                arguments = _without_invented_filters(
                    call.name, _without_empty(call.arguments), messages
                )
                self._provenance.add_model_call(call.name, arguments)
                output = await self._run_tool(call.name, arguments, seen_writes, proposals)
                ok = bool(output.get("ok", True))
                summary = _summary(call.name, output)
                trace.append(
                    ToolTrace(
                        agent=self.name,
                        tool=call.name,
                        arguments=arguments,
                        kind="write" if _is_write(call.name) else "read",
                        ok=ok,
                        summary=summary,
                    )
                )
                emit(
                    {
                        "type": "tool",
                        "agent": self.name,
                        "tool": call.name,
                        "arguments": arguments,
                        "ok": ok,
                        "summary": summary,
                    }
                )
                messages.append(
                    {"role": "tool", "tool_call_id": call.id, "content": as_data(call.name, output)}
                )
                self._provenance.add_data(call.name, output)
        return AgentReport(
            agent=self.name,
            reply="",
            proposals=proposals,
            trace=trace,
            error=f"The {self.name} agent stopped after {self.max_steps} steps without a final "
            "answer.",
        )

    def _system_prompt(self, context: str) -> str:
        today = self.crm.clock.today()
        return render_prompt(
            self.prompt_name or self.name,
            user_name=self.actor.name,
            user_roles=", ".join(sorted(self.actor.roles)) or "no role",
            user_team=self.actor.team or "none",
            today=f"{today.isoformat()} ({today.strftime('%A')})",
            context=context,
        )

    async def _run_tool(
        self,
        tool: str,
        arguments: dict[str, Any],
        seen_writes: set[str],
        proposals: list[ProposedWrite],
    ) -> dict[str, Any]:
        if tool not in self.tools:
            return {
                "ok": False,
                "kind": "validation",
                "message": f"{tool} is not one of the {self.name} agent's tools.",
            }
        if not _is_write(tool):
            return await asyncio.to_thread(self.crm.read, tool, arguments, self.actor)
        key = json.dumps([tool, arguments], sort_keys=True, default=str)
        if key in seen_writes:
            return {
                "ok": True,
                "status": "already proposed",
                "message": "This write is already in the plan.",
            }
        seen_writes.add(key)
        # Deterministic per thread, turn and position: a re-run of this node proposes the same ids.
        thread = hashlib.sha256(self.thread_id.encode()).hexdigest()[:10]
        proposal_id = f"prop-{thread}-{self.turn}-{self.name[:3]}-{len(seen_writes)}"
        proposal = await asyncio.to_thread(
            self.crm.propose,
            tool,
            arguments,
            self.actor,
            proposal_id=proposal_id,
            thread_id=self.thread_id,
        )
        if isinstance(proposal, ToolFailure):
            return proposal.model_dump(mode="json")
        flags = self._provenance.untrusted_arguments(proposal.arguments)
        if flags:  # the policy may hold such writes for review; the reviewer sees the flags
            facts = {
                **proposal.facts,
                "untrusted_arguments": flags,
                "untrusted_argument_count": len(flags),
            }
            proposal = proposal.model_copy(update={"facts": facts})
        proposals.append(ProposedWrite(**proposal.model_dump(), agent=self.name))
        return {
            "ok": True,
            "status": "proposed",
            "proposal_id": proposal.id,
            "change": proposal.summary,
            "message": "Proposed. The policy gate decides whether it commits now or needs "
            "approval; tell the user it is being processed.",
        }


def _is_write(tool: str) -> bool:
    spec = REGISTRY.get(tool)
    return spec is not None and spec.kind == "write"


def _without_invented_filters(
    tool: str, arguments: dict[str, Any], messages: list[Message]
) -> dict[str, Any]:
    """Small models fill optional id filters with ids nobody mentioned ("acc-123"), which turns
    "which P1 tickets breach?" into a not-found error. An optional `…_id` argument whose value
    appears nowhere in the conversation so far (request, history, context, tool results) is
    dropped: the call runs unfiltered. Required ids are left alone: the tool says they do not
    exist, which the model can relay or correct."""
    spec = REGISTRY.get(tool)
    if spec is None:
        return arguments
    required = {name for name, field in spec.args_model.model_fields.items() if field.is_required()}
    candidates = {
        k: v
        for k, v in arguments.items()
        if k.endswith("_id")
        and k not in required
        and isinstance(v, str)
        and not v.startswith("u-")  # people: "me" is the actor, whose id the prompt omits
    }
    if not candidates:
        return arguments
    seen = "\n".join(str(m.get("content") or "") for m in messages).lower()
    return {k: v for k, v in arguments.items() if k not in candidates or str(v).lower() in seen}


def _without_empty(arguments: dict[str, Any]) -> dict[str, Any]:
    """Models often fill optional arguments with "" or null; those mean 'not given'."""
    return {k: v for k, v in arguments.items() if v is not None and v != ""}


_PSEUDO_CALL = re.compile(r"^\s*(functions?\.|<tool_call>|\{\s*\"name\")", re.IGNORECASE)


def _not_an_answer(reply: str, tools: tuple[str, ...]) -> bool:
    if not reply or _PSEUDO_CALL.match(reply):
        return True
    head = reply.split(":", 1)[0].strip()
    return head in tools and len(reply) < len(head) + 40


RECORD_ID = re.compile(r"\b(?:acc|opp|con|tkt|prj)-[\w-]+")


NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


def _with_records(reply: str, trace: list[ToolTrace], messages: list[Message]) -> str:
    """Ground the answer in what the lookups returned. When it names none of the records they
    found ("There is 1 P1 ticket…"), or states a figure no lookup or context contains (a small
    model's "$1,000,000 pipeline"), the lookups' own one-line summaries are appended, so the
    user sees the CRM's records and figures next to the model's words."""
    reads = [step for step in trace if step.ok and step.kind == "read"]
    if not reads:
        return reply
    found = [step.summary for step in reads if RECORD_ID.search(step.summary)]
    unnamed = bool(found) and not RECORD_ID.search(reply)
    shown = "".join(str(m.get("content") or "") for m in messages).replace(",", "")
    invented = any(
        len(digits := _plain_number(n)) >= 3 and digits not in shown for n in NUMBER.findall(reply)
    )
    if not (unnamed or invented):
        return reply
    summaries = (found if unnamed else [step.summary for step in reads])[-2:]
    return reply + "\nFrom the CRM: " + "; ".join(summaries)


def _plain_number(text: str) -> str:
    """'1,000,000' → '1000000', '12.50' → '12.5', '8.0' → '8'."""
    digits = text.replace(",", "")
    if "." in digits:
        digits = digits.rstrip("0").rstrip(".")
    return digits


def _plain_findings(trace: list[ToolTrace]) -> str:
    lines = [f"{step.tool}: {step.summary}" for step in trace if step.ok]
    if not lines:
        problems = [step.summary for step in trace if not step.ok]
        return ("I could not complete that: " + problems[-1]) if problems else ""
    return "Here is what I found — " + "; ".join(lines)


def _describe(item: dict[str, Any]) -> str:
    if "priority" in item and "sla_due_at" in item:
        breached = ", SLA breached" if item.get("sla_breached") else ""
        state = f"{item['priority'].upper()} {item['status']}{breached}"
        return f"{item['id']} {state} ({item['subject']})"
    if "stage" in item:
        money = f" {item['amount']} {item['currency']}" if item.get("amount") is not None else ""
        return f"{item['id']} {item['name']} ({item['stage']}{money}, closes {item['close_date']})"
    if "go_live_date" in item:
        return f"{item['id']} {item['name']} (go-live {item['go_live_date']}, {item['status']})"
    if "week_start" in item:
        return f"week of {item['week_start']}: {item['free_days']} free days"
    if "tier" in item:
        return f"{item['id']} {item['name']}"
    if "title" in item:
        return f"{item['title']} § {item.get('section') or ''}".strip(" §")
    return str(item.get("id", item))


def _summary(tool: str, output: dict[str, Any]) -> str:
    if not output.get("ok", True):
        return str(output.get("message", "failed"))
    if output.get("status") == "proposed":
        return f"proposed: {output.get('change')}"
    for key in ("accounts", "opportunities", "tickets", "projects", "passages", "weeks"):
        if key in output:
            items = output[key]
            shown = ", ".join(_describe(i) for i in items[:5])
            more = f" and {len(items) - 5} more" if len(items) > 5 else ""
            return f"{len(items)} {key}" + (f": {shown}{more}" if items else "")
    if "account" in output and "open_opportunities" in output:
        return (
            f"{output['account']['name']}: {len(output['open_opportunities'])} open "
            f"opportunities, {output['open_tickets']} open tickets"
        )
    if "by_currency" in output:
        return (
            "; ".join(
                f"{c['currency']} pipeline {c['pipeline']}, weighted {c['weighted']}, "
                f"won {c['closed_won']}"
                for c in output["by_currency"]
            )
            or "no deals"
        )
    if "score" in output:
        return f"health {output['score']}/100 ({output['status']}): {', '.join(output['factors'])}"
    if "id" in output:
        return _describe(output)
    return "ok"
