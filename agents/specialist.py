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
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from agents.grounding import Grounding, ungrounded_figures, zh_discounts
from agents.llm_errors import LLMError
from agents.llm_types import ChatModel, Message, TextSink
from agents.state import AgentReport, ProposedWrite, SpecialistName, ToolTrace
from agents.toolselect import asked_writes, asks_only, select_tools
from agents.untrusted import Provenance
from prompts import load_prompt, render_prompt
from tools.catalogue import REGISTRY
from tools.context import Actor
from tools.errors import ToolFailure
from tools.service import CRMService, Proposal

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
    # The account the router linked the request to, if any: an account id the model invents
    # (seen nowhere in the conversation) is taken to mean this one.
    linked_account: str | None = None
    # Writes sent back for a past date or an id of the wrong kind, per tool (once, then refused).
    _refused_writes: dict[str, int] = field(default_factory=dict, init=False, repr=False)

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
        # The system prompt (and the tool schemas the server renders after it) is the same on
        # every call of this agent, whoever asks and on any day, so the model server reuses its
        # evaluated prefix; what changes per turn comes last, with the request.
        messages: list[Message] = [
            {"role": "system", "content": self._system_prompt()},
            *history,
            {"role": "user", "content": with_context(request, self.asked_by() + "\n" + context)},
        ]
        schemas = [REGISTRY[tool].openai_schema() for tool in self.shown_tools(request)]
        trace: list[ToolTrace] = []
        proposals: list[ProposedWrite] = []
        seen_writes: set[str] = set()
        said = [m.get("content") or "" for m in history if m.get("role") == "user"]
        self._provenance = Provenance([request, *said])
        self._provenance.add_data("context", context)
        nudged = refused_once = reminded = False
        question_only = asks_only(request)
        focus: list[dict[str, Any]] | None = None  # the tools of one reminder call, if any
        for _step in range(self.max_steps):
            try:
                result = await self.model.chat(
                    agent=self.name,
                    messages=messages,
                    tools=focus or schemas,
                    on_text=self._streamer(messages, emit),
                )
            except LLMError as exc:
                return AgentReport(
                    agent=self.name,
                    reply="",
                    proposals=proposals,
                    trace=trace,
                    error=exc.user_message,
                )
            focus = None
            if not result.tool_calls:
                reply = (result.text or "").strip()
                if (
                    _not_an_answer(reply, self.tools)
                    and not trace
                    and not nudged
                    and _step + 1 < self.max_steps
                ):
                    # A small model sometimes describes a call, or writes one for a tool it
                    # was not given: with nothing found yet, ask once for the answer or a
                    # call of its own tools (after tool results, their plain account serves).
                    nudged = True
                    messages.append({"role": "assistant", "content": reply})
                    messages.append({"role": "user", "content": _NUDGE})
                    continue
                missing = self._left_out(request, trace)
                if missing and not reminded and _step + 1 < self.max_steps:
                    # "Log the call and create a task": a small model often proposes the first
                    # write and stops. It is asked once more by name, shown only the tools
                    # still missing for that one call.
                    reminded = True
                    messages.append({"role": "assistant", "content": reply})
                    messages.append({"role": "user", "content": _still_asked(missing, request)})
                    focus = [REGISTRY[tool].openai_schema() for tool in missing]
                    continue
                if _refuses(reply) and not refused_once and _step + 1 < self.max_steps:
                    # A small model answers "I'm sorry, but I can't assist with that" to plain
                    # CRM requests; it is asked once more. What a user may not do is not its
                    # call to make: the tools refuse, the gate holds for review.
                    refused_once = True
                    messages.append({"role": "assistant", "content": reply})
                    messages.append({"role": "user", "content": _NOT_A_REFUSAL})
                    continue
                if _refuses(reply):
                    reply = _without_refusal(reply) or _plain_findings(trace) or reply
                if _not_an_answer(reply, self.tools):
                    # Small models sometimes end with an empty or half-written tool call: say
                    # plainly what the tools found rather than nothing.
                    reply = _plain_findings(trace)
                else:
                    reply = await self._grounded(reply, messages, schemas, trace, emit)
                    reply = _with_records(reply, trace, messages)
                return AgentReport(agent=self.name, reply=reply, proposals=proposals, trace=trace)
            messages.append(result.assistant_message())
            for call in result.tool_calls:
                arguments = _without_invented_filters(
                    call.name,
                    _ids_cleaned(_without_empty(call.arguments), messages, self.linked_account),
                    messages,
                )
                arguments = await asyncio.to_thread(
                    self._invented_ids_resolved, call.name, arguments, messages, request
                )
                arguments = self._me_resolved(call.name, arguments, request)
                arguments = _discount_as_said(call.name, arguments, request)
                arguments = await asyncio.to_thread(
                    self._activity_completed, call.name, arguments, request
                )
                self._provenance.add_model_call(call.name, arguments)
                if question_only and _is_write(call.name):
                    # A question asks for no change: a write the model makes up for it ("what
                    # does the customer need?" → mark the ticket solved) is not run, not shown
                    # to the user as a failure, and the model is told to answer instead.
                    emit(
                        {
                            "type": "tool",
                            "agent": self.name,
                            "tool": call.name,
                            "arguments": arguments,
                            "ok": False,
                            "summary": "not run: the request asks a question, not for a change",
                        }
                    )
                    messages.append(
                        {"role": "tool", "tool_call_id": call.id, "content": _ONLY_A_QUESTION}
                    )
                    continue
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
                    {
                        "role": "tool",
                        "tool_call_id": call.id,
                        "content": _shown_once(call.name, output, context),
                    }
                )
                self._provenance.add_data(call.name, output)
        return AgentReport(
            agent=self.name,
            reply=_out_of_steps(trace, proposals),
            proposals=proposals,
            trace=trace,
        )

    async def _grounded(
        self,
        reply: str,
        messages: list[Message],
        schemas: list[dict[str, Any]],
        trace: list[ToolTrace],
        emit: Any,
    ) -> str:
        """The reply with every figure found in this turn's data or the user's words: an
        ungrounded figure is named to the model once; if it stays, its sentence gives way to
        the CRM's own line."""
        said = [str(m.get("content") or "") for m in messages if m.get("role") == "user"]
        data = [str(m.get("content") or "") for m in messages if m.get("role") != "user"]
        grounding = Grounding.of(data, said=said, today=self.crm.clock.today())
        missing = ungrounded_figures(reply, grounding)
        regenerated = False
        if missing:
            regenerated = True
            named = ", ".join(f'"{f.text}"' for f in missing)
            retry: list[Message] = [
                *messages,
                {"role": "assistant", "content": reply},
                {
                    "role": "user",
                    "content": f"Your answer states {named}, which is in no tool result and not "
                    "in my words. Answer again using only figures from the data above; leave "
                    "out what the data does not say.",
                },
            ]
            try:
                again = await self.model.chat(
                    agent=self.name,
                    messages=retry,
                    tools=schemas,
                    on_text=self._streamer(retry, emit),
                )
            except LLMError:
                again = None
            text = (again.text or "").strip() if again and not again.tool_calls else ""
            if text and not _not_an_answer(text, self.tools):
                reply = text
            missing = ungrounded_figures(reply, grounding)
        replaced = [f.text for f in missing]
        if missing:
            reply = _without_figures(reply, replaced, trace)
        emit(
            {
                "type": "grounding",
                "agent": self.name,
                "regenerated": regenerated,
                "replaced": replaced,
                "ungrounded": [f.text for f in ungrounded_figures(reply, grounding)],
            }
        )
        return reply

    def _streamer(self, messages: list[Message], emit: Any) -> TextSink:
        """The sink for this call's streamed words: `reply_delta` events for the channel's
        live draft. Words are shown only while every figure in them is grounded in this
        call's data or the user's words; at the first that is not, the draft stops (the
        checked reply replaces it), so an invented figure is never on screen."""
        grounded: list[Grounding] = []  # built at the first words: most calls end in tool calls

        def grounding() -> Grounding:
            if not grounded:
                said = [str(m.get("content") or "") for m in messages if m.get("role") == "user"]
                data = [str(m.get("content") or "") for m in messages if m.get("role") != "user"]
                grounded.append(Grounding.of(data, said=said, today=self.crm.clock.today()))
            return grounded[0]

        draft: list[str] = []
        shown = [0]  # characters of the draft already emitted; -1 once held back

        def sink(piece: str) -> None:
            if piece == "":
                draft.clear()
                shown[0] = 0
                emit({"type": "reply_delta", "agent": self.name, "text": "", "reset": True})
                return
            if shown[0] < 0:
                return
            draft.append(piece)
            text = "".join(draft)
            # Only whole words are checked and shown: "12" may be the start of "120000".
            complete = text[: max(text.rfind(" "), text.rfind("\n")) + 1]
            if len(complete) <= shown[0]:
                return
            # Only the newly completed words are checked (with a little of what came before,
            # for a figure written with a space in it): the check stays linear in the reply.
            start = complete.rfind(" ", 0, max(0, shown[0] - 24)) + 1  # at a word's start
            if ungrounded_figures(complete[start:], grounding()):
                shown[0] = -1
                return
            emit({"type": "reply_delta", "agent": self.name, "text": complete[shown[0] :]})
            shown[0] = len(complete)

        return sink

    def _system_prompt(self) -> str:
        """The same text for every user and day: with the tool schemas the server renders after
        it, the prefix the model server evaluates once and reuses (who asks, and when, comes
        with each request: `asked_by`)."""
        name = self.prompt_name or self.name
        if "{user_name}" in load_prompt(name):  # a custom prompt that names the user up front
            return render_prompt(name, **self._asker_fields())
        return render_prompt(name)

    def _asker_fields(self) -> dict[str, str]:
        today = self.crm.clock.today()
        return {
            "user_name": self.actor.name,
            "user_roles": ", ".join(sorted(self.actor.roles)) or "no role",
            "user_team": self.actor.team or "none",
            "today": f"{today.isoformat()} ({today.strftime('%A')})",
        }

    def asked_by(self) -> str:
        """The first line of each request: who asks, in which role and team, and today's date."""
        f = self._asker_fields()
        return (
            f"Asked by {f['user_name']} ({f['user_roles']}, team {f['user_team']}) on {f['today']}."
        )

    def _left_out(self, request: str, trace: list[ToolTrace]) -> dict[str, int]:
        """Writes the request names outright that this agent may make but has proposed fewer
        times than asked — once it has proposed some write (a plan under way)."""
        if not any(step.kind == "write" for step in trace):
            return {}
        made = Counter(step.tool for step in trace if step.kind == "write")  # tried counts
        return {
            tool: count - made[tool]
            for tool, count in asked_writes(request).items()
            if tool in self.tools and made[tool] < count
        }

    def _me_resolved(self, tool: str, arguments: dict[str, Any], request: str) -> dict[str, Any]:
        """The asker where a person's id stands for them: "me", "rep" or "user" written as an
        owner or assignee; and "assigned to me" said in the request but left out of the call
        of a tool that assigns."""
        resolved = dict(arguments)
        for key in _PERSON_ARGUMENTS:
            value = resolved.get(key)
            if isinstance(value, str) and value.strip().lower() in _MEANS_ME:
                resolved[key] = self.actor.id
        spec = REGISTRY.get(tool)
        if (
            spec is not None
            and "assignee_id" in spec.args_model.model_fields
            and "assignee_id" not in resolved
            and _ASSIGN_TO_ME.search(request)
        ):
            resolved["assignee_id"] = self.actor.id
        return resolved

    def _activity_completed(
        self, tool: str, arguments: dict[str, Any], request: str
    ) -> dict[str, Any]:
        """A logged call or meeting as the request tells it: with the account's contacts the
        request names ("log a call with Jane") when the model left them out, and without a
        time in the future (what is logged has happened; the tool then takes now)."""
        if tool != "log_activity":
            return arguments
        completed = dict(arguments)
        when = completed.get("occurred_at")
        if isinstance(when, str):
            try:
                moment = datetime.fromisoformat(when.replace("Z", "+00:00"))
            except ValueError:
                moment = None
            if moment is not None:
                now = self.crm.clock.now()
                if moment.tzinfo is None:
                    moment = moment.replace(tzinfo=now.tzinfo)
                if moment > now:
                    completed.pop("occurred_at")
        account = completed.get("account_id")
        if completed.get("contact_ids") or not isinstance(account, str):
            return completed
        found = self.crm.read("get_account", {"account_id": account}, self.actor)
        contacts = found.get("contacts") if found.get("ok", True) else None
        named = [c["id"] for c in contacts or [] if _names(request, str(c.get("name") or ""))]
        if named:
            completed["contact_ids"] = named
        return completed

    def _invented_ids_resolved(
        self, tool: str, arguments: dict[str, Any], messages: list[Message], request: str
    ) -> dict[str, Any]:
        """A required record id the model made up ("prj-12345", seen nowhere in the
        conversation) while the request is linked to an account means the account's record of
        that kind the request names ("陈静", "the onboarding project") — or its only one."""
        spec = REGISTRY.get(tool)
        if spec is None or not self.linked_account:
            return arguments
        required = _required(tool)
        seen = _said_so_far(messages, without_assistant=True)
        resolved = dict(arguments)
        for key, (reader, listing, label) in _ACCOUNT_RECORDS.items():
            value = resolved.get(key)
            if key not in required or not isinstance(value, str) or value.lower() in seen:
                continue
            found = self.crm.read(reader, {"account_id": self.linked_account}, self.actor)
            records = found.get(listing) if found.get("ok", True) else None
            if not isinstance(records, list) or not records:
                continue
            named = [r for r in records if _names(request, str(r.get(label) or ""))]
            pick = named if named else records
            if len(pick) == 1:
                resolved[key] = pick[0]["id"]
        return resolved

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
        problem = write_problem(arguments, self.crm.clock.today())
        if problem:
            refusals = self._refused_writes.get(tool, 0) + 1
            self._refused_writes[tool] = refusals
            if refusals > 1:
                return {"ok": False, "kind": "refused", "message": f"Not done: {problem}"}
            return {
                "ok": False,
                "kind": "validation",
                "message": f"{problem} Call {tool} again with corrected arguments.",
            }
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
            cross_team=True,  # a write another team owns may become a request (tools/crossteam.py)
        )
        if isinstance(proposal, ToolFailure):
            return proposal.model_dump(mode="json")
        # A value the record already holds is no change and carries nothing from the data.
        changes = {
            k: v
            for k, v in proposal.arguments.items()
            if not _same((proposal.before or {}).get(k), v)
        }
        flags = self._provenance.untrusted_arguments(changes)
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


ID_KINDS = {"acc": "account", "opp": "opportunity", "con": "contact", "tkt": "ticket",
            "prj": "project"}  # fmt: skip
_PREFIX_OF = {kind: prefix for prefix, kind in ID_KINDS.items()}


_PERSON_ARGUMENTS = ("owner_id", "assignee_id")
_MEANS_ME = {"me", "myself", "i", "self", "user", "the user", "current user", "current_user",
             "rep", "the rep", "u-me", "u-user", "u-self", "我", "我自己"}  # fmt: skip
_ASSIGN_TO_ME = re.compile(
    r"\bassign(?:ed)?\s+(?:it\s+|this\s+|them\s+)?to\s+me\b|分配给我|指派给我|交给我",
    re.IGNORECASE,
)

# A required id argument → (read tool listing the account's records, its list, the name field).
_ACCOUNT_RECORDS = {
    "project_id": ("list_projects", "projects", "name"),
    "opportunity_id": ("list_opportunities", "opportunities", "name"),
    "contact_id": ("get_account", "contacts", "name"),
    "ticket_id": ("list_tickets", "tickets", "subject"),
}


def _names(text: str, name: str) -> bool:
    """Whether the text names the record: its whole name, a distinctive word of it ("Jane" of
    "Jane Doe"), or for a Chinese name the name itself or its first four characters."""
    if not name:
        return False
    lowered = text.lower()
    core = re.sub(r"[^\u4e00-\u9fff]", "", name)
    if core and (core in text or (len(core) >= 4 and core[:4] in text)):
        return True
    name = re.sub(r"[\u4e00-\u9fff]", " ", name).strip()
    if not name:
        return False
    if name.lower() in lowered:
        return True
    words = [w for w in re.findall(r"[\w'-]{3,}", name.lower()) if w not in _COMMON_NAME_WORDS]
    return any(re.search(rf"(?<![\w-]){re.escape(w)}(?![\w-])", lowered) for w in words)


_COMMON_NAME_WORDS = {"the", "and", "for", "project", "deal", "ticket", "rollout", "onboarding",
                      "expansion", "renewal", "implementation", "corp", "inc", "ltd"}  # fmt: skip


def _shown_once(tool: str, output: dict[str, Any], context: str) -> str:
    """The tool's output for the model — or, when it is a record already opened for this
    request and shown with it (agents/prefetch.py), a pointer to that: the model re-reading a
    record it was given costs a full second reading of it on 2 cores."""
    body = {k: v for k, v in output.items() if k != "ok"}
    if output.get("ok", True) and body:
        shown = f'<data source="{tool}">{json.dumps(body, ensure_ascii=False, default=str)}</data>'
        if shown in context:
            return f'<data source="{tool}">(the same record as shown above with the request)</data>'
    return as_data(tool, output)


def _a(noun: str) -> str:
    return ("an " if noun[0] in "aeiou" else "a ") + noun


DATE_ARGUMENT = re.compile(r"(^|_)(date|due|day|week_start)$")


def write_problem(arguments: dict[str, Any], today: date) -> str | None:
    """Why a write's arguments cannot be meant, in one sentence: a date in the past, or an id
    of the wrong kind (a contact id where an account id belongs); None when neither."""
    for name, value in arguments.items():
        if not isinstance(value, str):
            continue
        if name.endswith("_id") and not name.startswith(("owner", "assignee", "lead")):
            wanted = name.removesuffix("_id")
            prefix = value.split("-", 1)[0].lower()
            if wanted in ID_KINDS.values() and prefix in ID_KINDS and ID_KINDS[prefix] != wanted:
                return (
                    f"{name} '{value}' is {_a(ID_KINDS[prefix])} id, not {_a(wanted)} id; "
                    f"use the {wanted}'s own id ({_PREFIX_OF[wanted]}-…)."
                )
        if DATE_ARGUMENT.search(name) and not name.startswith("start"):
            try:
                day = date.fromisoformat(value[:10])
            except ValueError:
                continue
            if day < today:
                return f"{name} {day.isoformat()} is in the past (today is {today.isoformat()})."
    return None


def with_context(request: str, context: str) -> str:
    """The user's turn as the model reads it: this turn's context (data), then the request."""
    context = context.strip()
    return f"{context}\n\nRequest: {request}" if context else request


def _discount_as_said(tool: str, arguments: dict[str, Any], request: str) -> dict[str, Any]:
    """A discount the request states in 折 ("打八折" is 20 % off; a small model writes 80)
    replaces the share of the price the model took for it."""
    said = zh_discounts(request)
    percent = arguments.get("percent")
    if tool != "apply_discount" or len(said) != 1 or percent is None:
        return arguments
    try:
        given = Decimal(str(percent))
    except (InvalidOperation, ValueError):
        return arguments
    if given == 100 - said[0]:
        return {**arguments, "percent": _plain_number(said[0])}
    return arguments


def _plain_number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _same(held: Any, given: Any) -> bool:
    """Whether an argument equals the value a record already holds (numbers by value, text
    without case)."""
    if held is None or given is None or isinstance(held, bool) or isinstance(given, bool):
        return held is given or (isinstance(held, bool) and held == given)
    try:
        return Decimal(str(held)) == Decimal(str(given))
    except (InvalidOperation, ValueError):
        return str(held).strip().lower() == str(given).strip().lower()


def _required(tool: str) -> set[str]:
    """The arguments a tool cannot do without."""
    spec = REGISTRY[tool]
    return {name for name, field in spec.args_model.model_fields.items() if field.is_required()}


def _said_so_far(messages: list[Message], *, without_assistant: bool = False) -> str:
    """The conversation's text, lower-cased, to tell an id seen in it from one made up. The
    model's own messages are left out when they may carry the very call being checked."""
    return "\n".join(
        str(m.get("content") or "")
        for m in messages
        if not (without_assistant and m.get("role") == "assistant")
    ).lower()


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
    required = _required(tool)
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
    seen = _said_so_far(messages)
    return {k: v for k, v in arguments.items() if k not in candidates or str(v).lower() in seen}


_ID_FIRST = re.compile(r"^[`'\"]?((?:acc|opp|con|tkt|prj)-[\w.-]*\w)[`'\"]?(?:[\s,;:(]|$)")


def _id_of(value: Any) -> Any:
    """An id argument as the model sometimes writes it — copied with the record's name after
    it ("con-raj Raj Mehta") or quoted — reduced to the id; anything else unchanged."""
    if isinstance(value, str) and (found := _ID_FIRST.match(value.strip())):
        return found.group(1)
    return value


def _ids_cleaned(
    arguments: dict[str, Any], messages: list[Message], linked_account: str | None
) -> dict[str, Any]:
    """Id arguments reduced to the id (`_id_of`); an `account_id` found nowhere in the
    conversation ("acc-12345") while the request is linked to an account means that account."""
    cleaned: dict[str, Any] = {}
    for key, value in arguments.items():
        if key.endswith("_id"):
            value = _id_of(value)
        elif key.endswith("_ids") and isinstance(value, list):
            value = [_id_of(item) for item in value]
        cleaned[key] = value
    account = cleaned.get("account_id")
    if linked_account and isinstance(account, str) and account != linked_account:
        seen = _said_so_far(messages)
        if account.lower() not in seen:
            cleaned["account_id"] = linked_account
    return cleaned


def _without_empty(arguments: dict[str, Any]) -> dict[str, Any]:
    """Models often fill optional arguments with "" or null; those mean 'not given'."""
    return {k: v for k, v in arguments.items() if v is not None and v != ""}


_PSEUDO_CALL = re.compile(
    r"^\s*(functions?\.|<tool_call>|(```\w*\s*)?\[?\s*\{+\s*\"name\")", re.IGNORECASE
)
# "call the `get_opportunity` function …": a call described instead of made.
_DESCRIBED_CALL = re.compile(
    r"\b(call|use|invoke|run)\s+(the\s+)?(following\s+)?`?(\w+_\w+`?\s+)?"
    r"(function|tool)( call)?\b",
    re.IGNORECASE,
)
_NUDGE = (
    "That is not an answer. Answer my question in plain words from the data above, or call "
    "one of the tools you were given."
)


# "I'm sorry, but I can't assist with that request." / "I apologize, but I cannot fulfill …"
_REFUSAL = re.compile(
    r"^\s*(?:I'?m sorry|I am sorry|I apologi[sz]e|Sorry|Unfortunately)[^.!\n]*?\b"
    r"(?:can(?:'|no)?t|cannot|unable to|not able to)\s+(?:assist|help|fulfill|comply|do that|"
    r"provide|process|complete)[^.!\n]*[.!]?",
    re.IGNORECASE,
)
_NOT_A_REFUSAL = (
    "This is an ordinary request from a colleague at work, about our own CRM. Do what it asks "
    "with your tools, or answer it from the data above. You do not need to judge what is "
    "allowed: the tools refuse what this user may not do, and risky changes wait for a "
    "reviewer."
)


_ONLY_A_QUESTION = (
    "Not done: my request is a question and asks for no change. Do not call write tools; "
    "answer my question in plain words from the data above."
)


def _still_asked(missing: dict[str, int], request: str) -> str:
    wanted = ", ".join(
        f"{tool} ({count} more call{'s' if count > 1 else ''})" if count > 1 else tool
        for tool, count in missing.items()
    )
    return (
        f'My request was: "{request}". It also asks for {wanted}, which you have not called '
        f"yet. Call {'them' if len(missing) > 1 or max(missing.values()) > 1 else 'it'} now, "
        "taking the details from my request (what is not given has a default)."
    )


def _refuses(reply: str) -> bool:
    return _REFUSAL.match(reply) is not None


def _without_refusal(reply: str) -> str:
    """The reply without its opening refusal sentence (what follows may still be useful)."""
    return _REFUSAL.sub("", reply, count=1).strip()


def _not_an_answer(reply: str, tools: tuple[str, ...]) -> bool:
    if not reply or _PSEUDO_CALL.match(reply) or _DESCRIBED_CALL.search(reply):
        return True
    if "<data source=" in reply:  # the data block echoed back, not an answer from it
        return True
    head = reply.split(":", 1)[0].strip()
    return head in tools and len(reply) < len(head) + 40


RECORD_ID = re.compile(r"\b(?:acc|opp|con|tkt|prj)-[\w-]+")


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
    if not unnamed or "From the CRM:" in reply:
        return reply
    return reply + "\nFrom the CRM: " + "; ".join(found[-2:])


_SENTENCE = re.compile(r"(?<=[.!?。！？])\s*|\n+")


def _without_figures(reply: str, figures: list[str], trace: list[ToolTrace]) -> str:
    """The reply without the sentences stating `figures`, and the lookups' own lines instead."""
    kept = [
        part
        for part in _SENTENCE.split(reply)
        if part.strip() and not any(figure in part for figure in figures)
    ]
    reads = [step.summary for step in trace if step.ok and step.kind == "read"]
    crm_line = (
        ("From the CRM: " + "; ".join(reads[-2:]))
        if reads
        else ("That figure is not in the CRM, so I left it out.")
    )
    return " ".join([*kept, "\n" + crm_line]).strip()


def _out_of_steps(trace: list[ToolTrace], proposals: Sequence[Proposal]) -> str:
    """What the user reads when the step budget runs out: what was done and what was not."""
    done = [step.summary for step in trace if step.ok]
    failed = [f"{step.tool}: {step.summary}" for step in trace if not step.ok]
    parts = ["I ran out of steps before finishing."]
    if proposals:
        parts.append("Planned: " + "; ".join(p.summary for p in proposals) + ".")
    looked = [d for d in done if not d.startswith("proposed:")]
    if looked:
        parts.append("Looked up: " + "; ".join(looked[-3:]) + ".")
    if failed:
        parts.append("Not done: " + "; ".join(failed[-3:]) + ".")
    if not proposals:
        parts.append("Nothing was changed; ask again with one change at a time.")
    return " ".join(parts)


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
        # No "/100": a figure that is not in the data would fail the reply's figure check.
        factors = ", ".join(output["factors"])
        return f"health score {output['score']} ({output['status']}): {factors}"
    if "id" in output:
        return _describe(output)
    return "ok"
