"""The demo company: a realistic, deterministic CRM for a B2B analytics vendor.

`build_demo_company` returns a fixture (the shape `tools.fixtures.load_fixture` takes) for a
company selling "Beacon", a seat-based analytics platform (plans Starter, Growth, Enterprise).
Everything is derived from `random.Random(seed)` and dated relative to `anchor`, the demo's
"today", so the same (seed, anchor) always gives the same company.

A few records are fixed because the demo, the docs and the scenarios name them: Acme
(`acc-acme`, `con-jane`, `con-raj`, `opp-acme-1`), Helix Health (`acc-helix`, `opp-helix-1`,
`prj-helix`, two open P1 tickets `tkt-helix-1` (SLA breached) and `tkt-helix-2`), 华星科技
Huaxing Tech (`acc-huaxing`, `con-wang`, `opp-huaxing-1` in CNY) and Globex Retail
(`acc-globex`). Delivery capacity is full in the week of Helix's go-live (anchor + 6 weeks),
nearly full the week after and roomy the week after that.

`seed_demo` loads the company into a CRM database.
"""

from __future__ import annotations

import random
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, inspect, select, update

from tools.catalogue.service import sla_due
from tools.db import Database
from tools.fixtures import load_fixture, validate_fixture
from tools.models import Account, Base, User

Fixture = dict[str, list[dict[str, Any]]]

STAGES = ("prospecting", "qualification", "proposal", "negotiation", "closed_won", "closed_lost")
OPEN_STAGES = STAGES[:4]
PROBABILITY = {
    "prospecting": 10,
    "qualification": 20,
    "proposal": 50,
    "negotiation": 75,
    "closed_won": 100,
    "closed_lost": 0,
}
PLANS = ("Starter", "Growth", "Enterprise")
# List price per seat and year, and what a seat costs us to serve, per plan and currency.
LIST_PRICE = {
    ("Starter", "USD"): 300,
    ("Growth", "USD"): 600,
    ("Enterprise", "USD"): 1200,
    ("Starter", "EUR"): 280,
    ("Growth", "EUR"): 560,
    ("Enterprise", "EUR"): 1100,
    ("Starter", "CNY"): 2100,
    ("Growth", "CNY"): 4200,
    ("Enterprise", "CNY"): 8400,
}
COST_RATIO = {"Starter": 0.30, "Growth": 0.26, "Enterprise": 0.22}

USERS: list[dict[str, Any]] = [
    {
        "id": "u-alice",
        "name": "Alice Wong",
        "roles": ["rep"],
        "team": "west",
        "manager_id": "u-maria",
    },
    {
        "id": "u-ben",
        "name": "Ben Carter",
        "roles": ["rep"],
        "team": "west",
        "manager_id": "u-maria",
    },
    {"id": "u-bob", "name": "Bob Stone", "roles": ["rep"], "team": "east", "manager_id": "u-omar"},
    {
        "id": "u-chen",
        "name": "陈伟 Chen Wei",
        "roles": ["rep"],
        "team": "apac",
        "manager_id": "u-li",
    },
    {
        "id": "u-maria",
        "name": "Maria Lopez",
        "roles": ["sales_manager"],
        "team": "west",
        "manager_id": "u-admin",
    },
    {
        "id": "u-omar",
        "name": "Omar Haddad",
        "roles": ["sales_manager"],
        "team": "east",
        "manager_id": "u-admin",
    },
    {
        "id": "u-li",
        "name": "李娜 Li Na",
        "roles": ["sales_manager"],
        "team": "apac",
        "manager_id": "u-admin",
    },
    {
        "id": "u-sam",
        "name": "Sam Patel",
        "roles": ["support"],
        "team": "support",
        "manager_id": "u-priya",
    },
    {
        "id": "u-priya",
        "name": "Priya Shah",
        "roles": ["support_lead"],
        "team": "support",
        "manager_id": "u-admin",
    },
    {
        "id": "u-dev",
        "name": "Devon Reyes",
        "roles": ["delivery"],
        "team": "delivery",
        "manager_id": "u-dana",
    },
    {
        "id": "u-dana",
        "name": "Dana Kim",
        "roles": ["delivery_lead"],
        "team": "delivery",
        "manager_id": "u-admin",
    },
    {"id": "u-admin", "name": "Avery Admin", "roles": ["admin"], "team": None},
]
REPS = {"west": ["u-alice", "u-ben"], "east": ["u-bob"], "apac": ["u-chen"]}
SUPPORT_USERS = ["u-sam", "u-sam", "u-sam", "u-priya"]  # Sam takes most of the queue
DELIVERY_USERS = ["u-dev", "u-dev", "u-dana"]

# (slug, name, industry, region, tier); the slug is the id suffix and the domain.
WEST_ACCOUNTS = [
    ("acme", "Acme Corp", "Manufacturing", "North America", "strategic"),
    ("globex", "Globex Retail", "Retail", "North America", "standard"),
    ("initech", "Initech Software", "Software", "North America", "strategic"),
    ("pinecrest", "Pinecrest Bank", "Financial Services", "North America", "strategic"),
    ("bluewater", "Bluewater Foods", "Consumer Goods", "North America", "standard"),
    ("summit", "Summit Outdoor", "Retail", "North America", "standard"),
    ("cascade", "Cascade Energy", "Energy", "North America", "strategic"),
    ("goldengate", "Golden Gate Media", "Media", "North America", "standard"),
    ("sierrabio", "Sierra Biotech", "Life Sciences", "North America", "standard"),
    ("pacificfreight", "Pacific Freight", "Logistics", "North America", "standard"),
    ("mesa", "Mesa Insurance", "Insurance", "North America", "standard"),
    ("orchard", "Orchard Learning", "Education", "North America", "standard"),
    ("vertex", "Vertex Games", "Software", "North America", "standard"),
    ("redwood", "Redwood Health Partners", "Healthcare", "North America", "standard"),
    ("canyon", "Canyon Telecom", "Telecommunications", "North America", "standard"),
    ("lumen", "Lumen Solar", "Energy", "North America", "standard"),
    ("harbor", "Harbor Credit Union", "Financial Services", "North America", "standard"),
    ("alpine", "Alpine Hotels", "Hospitality", "North America", "standard"),
    ("quartz", "Quartz Robotics", "Manufacturing", "North America", "standard"),
    ("tidal", "Tidal Marketplaces", "E-commerce", "North America", "standard"),
]
EAST_ACCOUNTS = [
    ("helix", "Helix Health", "Healthcare", "North America", "strategic"),
    ("granite", "Granite Capital", "Financial Services", "North America", "strategic"),
    ("northwind", "Northwind Traders", "Wholesale", "North America", "standard"),
    ("beacon-hill", "Beacon Hill University", "Education", "North America", "standard"),
    ("atlantic", "Atlantic Mutual", "Insurance", "North America", "standard"),
    ("liberty", "Liberty Pharma", "Life Sciences", "North America", "strategic"),
    ("hudson", "Hudson Media Group", "Media", "North America", "standard"),
    ("keystone", "Keystone Logistics", "Logistics", "North America", "standard"),
    ("brightline", "Brightline Rail", "Transportation", "North America", "standard"),
    ("maple", "Maple Grocers", "Retail", "North America", "standard"),
    ("nordlicht", "Nordlicht Energie GmbH", "Energy", "Europe", "strategic"),
    ("bauwerk", "Bauwerk Industrie AG", "Manufacturing", "Europe", "standard"),
    ("lumiere", "Lumière Retail SA", "Retail", "Europe", "standard"),
    ("vanderberg", "Van der Berg Logistics", "Logistics", "Europe", "standard"),
    ("fjord", "Fjord Telecom", "Telecommunications", "Europe", "standard"),
    ("solano", "Solano Banca", "Financial Services", "Europe", "standard"),
    ("thames", "Thames Water Analytics", "Utilities", "Europe", "standard"),
    ("alpenrose", "Alpenrose Versicherung", "Insurance", "Europe", "standard"),
    ("iberia-motors", "Iberia Motors", "Automotive", "Europe", "standard"),
    ("kestrel", "Kestrel Aerospace", "Aerospace", "North America", "standard"),
]
APAC_ACCOUNTS = [
    ("huaxing", "华星科技 Huaxing Tech", "Software", "Greater China", "strategic"),
    ("dongfang", "东方物流 Dongfang Logistics", "Logistics", "Greater China", "standard"),
    ("jinhai", "金海银行 Jinhai Bank", "Financial Services", "Greater China", "strategic"),
    ("tianyi", "天翼医疗 Tianyi Medical", "Healthcare", "Greater China", "standard"),
    ("changjiang", "长江汽车 Changjiang Auto", "Automotive", "Greater China", "standard"),
    ("lanhai", "蓝海零售 Lanhai Retail", "Retail", "Greater China", "standard"),
    ("hengtong", "恒通电信 Hengtong Telecom", "Telecommunications", "Greater China", "standard"),
    ("xinyuan", "新源能源 Xinyuan Energy", "Energy", "Greater China", "standard"),
    ("zhiyun", "智云软件 Zhiyun Software", "Software", "Greater China", "standard"),
    ("meilin", "美林教育 Meilin Education", "Education", "Greater China", "standard"),
    ("baifu", "百福食品 Baifu Foods", "Consumer Goods", "Greater China", "standard"),
    ("ruida", "瑞达保险 Ruida Insurance", "Insurance", "Greater China", "standard"),
    ("sakura", "Sakura Electronics KK", "Manufacturing", "Japan", "strategic"),
    ("kanto", "Kanto Rail", "Transportation", "Japan", "standard"),
    ("merlion", "Merlion Bank", "Financial Services", "Singapore", "strategic"),
    ("straits", "Straits Shipping", "Logistics", "Singapore", "standard"),
    ("koala", "Koala Health", "Healthcare", "Australia", "standard"),
    ("southern-cross", "Southern Cross Mining", "Mining", "Australia", "standard"),
    ("kiwi", "Kiwi Dairy Co-op", "Consumer Goods", "New Zealand", "standard"),
    ("seoul-digital", "Seoul Digital", "Media", "South Korea", "standard"),
]
TEAM_ACCOUNTS = {"west": WEST_ACCOUNTS, "east": EAST_ACCOUNTS, "apac": APAC_ACCOUNTS}
FIXED_OWNER = {"acme": "u-alice", "globex": "u-ben", "helix": "u-bob", "huaxing": "u-chen"}

EN_FIRST = [
    "James",
    "Emily",
    "Michael",
    "Olivia",
    "David",
    "Sophia",
    "Daniel",
    "Grace",
    "Thomas",
    "Hannah",
    "Lucas",
    "Chloe",
    "Ethan",
    "Isabel",
    "Noah",
    "Mia",
    "Samuel",
    "Laura",
    "Oscar",
    "Nina",
    "Marcus",
    "Elena",
    "Victor",
    "Rachel",
    "Aaron",
    "Julia",
    "Kevin",
    "Sarah",
]
EN_LAST = [
    "Miller",
    "Johnson",
    "Brown",
    "Garcia",
    "Martinez",
    "Anderson",
    "Taylor",
    "Thomas",
    "Moore",
    "Jackson",
    "White",
    "Harris",
    "Clark",
    "Lewis",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Green",
    "Baker",
    "Nelson",
    "Carter",
    "Mitchell",
    "Reed",
]
EU_FIRST = [
    "Lukas",
    "Anna",
    "Jonas",
    "Sophie",
    "Matteo",
    "Clara",
    "Pierre",
    "Inès",
    "Lars",
    "Ingrid",
    "Javier",
    "Lucía",
    "Finn",
    "Marie",
]
EU_LAST = [
    "Müller",
    "Schmidt",
    "Dubois",
    "Rossi",
    "Jansen",
    "Nilsen",
    "García",
    "Fischer",
    "Moreau",
    "Bianchi",
    "de Vries",
    "Larsen",
    "Weber",
    "Lefèvre",
]
# (family name hanzi, pinyin), (given name hanzi, pinyin)
CN_FAMILY = [
    ("王", "Wang"),
    ("李", "Li"),
    ("张", "Zhang"),
    ("刘", "Liu"),
    ("陈", "Chen"),
    ("杨", "Yang"),
    ("赵", "Zhao"),
    ("黄", "Huang"),
    ("周", "Zhou"),
    ("吴", "Wu"),
    ("徐", "Xu"),
    ("孙", "Sun"),
    ("马", "Ma"),
    ("朱", "Zhu"),
    ("胡", "Hu"),
]
CN_GIVEN = [
    ("伟", "Wei"),
    ("敏", "Min"),
    ("静", "Jing"),
    ("磊", "Lei"),
    ("洋", "Yang"),
    ("艳", "Yan"),
    ("勇", "Yong"),
    ("军", "Jun"),
    ("杰", "Jie"),
    ("婷", "Ting"),
    ("强", "Qiang"),
    ("晨", "Chen"),
    ("雪", "Xue"),
    ("浩然", "Haoran"),
    ("子涵", "Zihan"),
    ("思远", "Siyuan"),
    ("佳怡", "Jiayi"),
    ("建国", "Jianguo"),
]
ASIA_NAMES = {
    "Japan": (
        ["Haruto", "Yui", "Sota", "Aoi", "Ren", "Hina"],
        ["Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito"],
    ),
    "South Korea": (["Minjun", "Seoyeon", "Jihoon", "Jiwoo"], ["Kim", "Lee", "Park", "Choi"]),
}
TITLES = [
    "CTO",
    "CIO",
    "VP Engineering",
    "VP Data",
    "Head of Analytics",
    "Head of BI",
    "Data Platform Lead",
    "IT Director",
    "Procurement Manager",
    "CFO",
    "Finance Director",
    "Operations Manager",
    "Analytics Engineer",
    "Head of Customer Success",
]
CN_TITLES = [
    "首席技术官 CTO",
    "数据部总监 Head of Data",
    "IT经理 IT Manager",
    "采购经理 Procurement Manager",
    "财务总监 CFO",
    "业务分析主管 BI Lead",
]
PHONE_PREFIX = {
    "North America": "+1 415 555",
    "Europe": "+49 30 5550",
    "Greater China": "+86 21 5555",
    "Japan": "+81 3 5555",
    "Singapore": "+65 6555",
    "Australia": "+61 2 5550",
    "New Zealand": "+64 9 555",
    "South Korea": "+82 2 555",
}
HAN = re.compile(r"[\u4e00-\u9fff]")
REGION_CURRENCY = {"Europe": "EUR", "Greater China": "CNY"}

OPP_NAMES = [
    "{plan} rollout",
    "{plan} renewal",
    "{plan} expansion",
    "Analytics pilot",
    "Self-serve BI for finance",
    "{plan} upgrade",
    "Data team seats",
    "Regional expansion",
    "Executive dashboards",
    "Embedded analytics",
    "Migration from legacy BI",
]
NEXT_STEPS = {
    "prospecting": [
        "Discovery call with the data team",
        "Send Beacon overview deck",
        "Qualify budget and timeline",
    ],
    "qualification": [
        "Technical deep-dive with IT",
        "Confirm seat count and use cases",
        "Identify the economic buyer",
    ],
    "proposal": [
        "Send proposal and pricing",
        "Walk the buyer through the proposal",
        "Security questionnaire follow-up",
    ],
    "negotiation": [
        "Legal review of the MSA",
        "Agree discount and payment terms",
        "Procurement sign-off",
    ],
    "closed_won": ["Hand over to delivery", "Kick-off meeting with delivery"],
    "closed_lost": ["Check back next fiscal year", "Loss review with the manager"],
}
ACTIVITY_SUBJECTS = {
    "call": [
        "Discovery call",
        "Pricing call",
        "Check-in call",
        "Renewal call",
        "Call about seat count",
        "Follow-up call on the proposal",
    ],
    "meeting": [
        "Quarterly business review",
        "Product demo",
        "Technical workshop",
        "Executive sponsor meeting",
        "Onsite visit",
        "Security review meeting",
    ],
    "email": [
        "Sent proposal",
        "Shared case study",
        "Sent pricing",
        "Follow-up email",
        "Sent security documentation",
        "Sent meeting recap",
    ],
    "note": [
        "Internal note",
        "Competitive intel",
        "Account plan update",
        "Risk note",
        "Champion change",
    ],
}
ACTIVITY_SUMMARIES = [
    "Discussed {n} seats on the {plan} plan; the team wants dashboards for finance and ops.",
    "They compare Beacon with an incumbent BI tool; price is the main objection.",
    "Budget approved for next quarter, procurement to be involved early.",
    "Asked for SSO, audit logs and a data residency statement.",
    "Usage grew in the analytics team; opportunity to expand to {n} seats.",
    "Champion is happy with onboarding; asked about the Enterprise tier.",
    "Raised concerns about dashboard load times; looping in support.",
    "Agreed on next steps: {step}.",
    "Legal has questions about the DPA; sending our standard terms.",
    "Wants a go-live before the end of the quarter.",
]
CN_SUMMARIES = [
    "讨论了{n}个席位的{plan}方案，客户希望下季度上线。",
    "客户关注数据本地化和价格，需要提供中文版合同。",
    "IT部门要求单点登录(SSO)和审计日志。",
    "采购流程已启动，预计本季度内签约。",
]
TICKET_TOPICS = [
    ("Dashboard not loading", "Dashboards time out after 30 seconds for several users."),
    ("SSO login fails", "Users get an error from the identity provider when signing in."),
    ("Data sync delayed", "The nightly warehouse sync finished hours late."),
    ("Export to CSV broken", "CSV export produces an empty file for large reports."),
    ("Wrong numbers in revenue report", "Totals differ from the warehouse by about 2 %."),
    ("API rate limit errors", "Integration receives HTTP 429 during business hours."),
    ("Seat assignment question", "How do we move seats between departments?"),
    ("Scheduled report not delivered", "The Monday morning report e-mail did not arrive."),
    ("Permission error on shared folder", "Analysts cannot open a folder shared with them."),
    ("Feature request: dark mode", "Several users asked for a dark theme."),
    ("Slow queries on large dataset", "Queries over 100M rows take minutes."),
    ("Invoice question", "The invoice shows more seats than the contract."),
    ("Connector setup help", "Need help connecting Beacon to the Snowflake warehouse."),
    ("Alert e-mails duplicated", "Every threshold alert arrives twice."),
]
TASK_SUBJECTS = [
    "Send proposal to {acc}",
    "Follow up with {acc} on pricing",
    "Prepare QBR deck for {acc}",
    "Book demo with {acc}",
    "Update forecast notes for {acc}",
    "Chase signed order form from {acc}",
    "Check usage report for {acc}",
    "Plan kick-off with {acc}",
    "Renewal prep for {acc}",
]


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat()


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def quarter_end(day: date) -> date:
    """Last day of the calendar quarter containing `day`."""
    q_last_month = 3 * ((day.month - 1) // 3 + 1)
    first_next = (
        date(day.year + 1, 1, 1) if q_last_month == 12 else date(day.year, q_last_month + 1, 1)
    )
    return first_next - timedelta(days=1)


def _quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def helix_dates(anchor: date) -> dict[str, date]:
    """Helix's project start, go-live, and the capacity weeks the demo negotiation relies on."""
    go_live = anchor + timedelta(weeks=6)
    full_week = _monday(go_live)
    return {
        "start": anchor + timedelta(weeks=2),
        "go_live": go_live,
        "full_week": full_week,
        "tight_week": full_week + timedelta(weeks=1),
        "free_week": full_week + timedelta(weeks=2),
    }


def _money(value: float) -> int:
    return int(round(value))


def _deal_money(seats: int, plan: str, currency: str, discount: int) -> dict[str, Any]:
    amount = seats * LIST_PRICE[(plan, currency)]
    cost = _money(amount * COST_RATIO[plan])
    net = amount * (100 - discount) / 100
    margin = round((net - cost) / net * 100, 1) if net else 0.0
    return {"amount": amount, "cost": cost, "margin_percent": margin}


class _Builder:
    def __init__(self, seed: int, anchor: date) -> None:
        self.rng = random.Random(seed)
        self.anchor = anchor
        self.data: Fixture = {
            t: []
            for t in (
                "users",
                "accounts",
                "contacts",
                "opportunities",
                "activities",
                "tasks",
                "tickets",
                "projects",
                "capacity",
                "products",
            )
        }
        self.accounts: dict[str, dict[str, Any]] = {}
        self.contacts_of: dict[str, list[str]] = {}
        self.opps_of: dict[str, list[dict[str, Any]]] = {}
        self.emails: set[str] = set()

    # ------------------------------------------------------------------ helpers
    def day(self, lo: int, hi: int) -> date:
        """A day between anchor+lo and anchor+hi (inclusive)."""
        return self.anchor + timedelta(days=self.rng.randint(lo, hi))

    def workday(self, lo: int, hi: int) -> date:
        d = self.day(lo, hi)
        while d.weekday() >= 5:
            d -= timedelta(days=1)
        return d

    def unique_email(self, local: str, domain: str) -> str:
        email, n = f"{local}@{domain}", 2
        while email in self.emails:
            email, n = f"{local}{n}@{domain}", n + 1
        self.emails.add(email)
        return email

    # ------------------------------------------------------------------ tables
    def users(self) -> None:
        for user in USERS:
            row = {**user, "email": f"{user['id'][2:]}@warroom.example"}
            row.setdefault("manager_id", None)
            self.data["users"].append(row)

    def products(self) -> None:
        rows = []
        for plan in PLANS:
            for currency in ("USD", "EUR", "CNY"):
                price = LIST_PRICE[(plan, currency)]
                rows.append(
                    {
                        "id": f"prd-{plan.lower()}-{currency.lower()}",
                        "name": f"Beacon {plan} seat ({currency})",
                        "family": "beacon",
                        "unit": "seat/year",
                        "list_price": price,
                        "currency": currency,
                        "unit_cost": _money(price * COST_RATIO[plan]),
                    }
                )
        rows.append(
            {
                "id": "prd-fast-track",
                "name": "Implementation fast-track",
                "family": "services",
                "unit": "project",
                "list_price": 25000,
                "currency": "USD",
                "unit_cost": 14000,
            }
        )
        rows.append(
            {
                "id": "prd-premium-support",
                "name": "Premium support",
                "family": "support",
                "unit": "account/year",
                "list_price": 18000,
                "currency": "USD",
                "unit_cost": 7000,
            }
        )
        self.data["products"] = rows

    def accounts_(self) -> None:
        for team, accounts in TEAM_ACCOUNTS.items():
            reps = REPS[team]
            for index, (slug, name, industry, region, tier) in enumerate(accounts):
                owner = FIXED_OWNER.get(slug, reps[index % len(reps)])
                row = {
                    "id": f"acc-{slug}",
                    "name": name,
                    "domain": f"{slug}.example",
                    "industry": industry,
                    "tier": tier,
                    "owner_id": owner,
                    "team": team,
                    "region": region,
                }
                self.data["accounts"].append(row)
                self.accounts[row["id"]] = row
                self.contacts_of[row["id"]] = []
                self.opps_of[row["id"]] = []

    def _person(self, region: str, chinese: bool) -> tuple[str, str, bool]:
        """(display name, e-mail local part, is_chinese)."""
        rng = self.rng
        if chinese or (region == "Singapore" and rng.random() < 0.5):
            (fam, fam_py), (giv, giv_py) = rng.choice(CN_FAMILY), rng.choice(CN_GIVEN)
            return f"{fam}{giv} {fam_py} {giv_py}", f"{fam_py}.{giv_py}".lower(), True
        if region in ASIA_NAMES:
            first, last = (rng.choice(part) for part in ASIA_NAMES[region])
        elif region == "Europe":
            first, last = rng.choice(EU_FIRST), rng.choice(EU_LAST)
        else:
            first, last = rng.choice(EN_FIRST), rng.choice(EN_LAST)
        local = f"{first}.{last}".lower().replace(" ", "")
        local = local.translate(str.maketrans("üéèàíô", "ueeaio"))
        return f"{first} {last}", local, False

    def add_contact(self, account_id: str, row: dict[str, Any]) -> None:
        row = {"account_id": account_id, **row}
        self.data["contacts"].append(row)
        self.contacts_of[account_id].append(row["id"])

    def contacts(self) -> None:
        rng = self.rng
        self.emails.update({"jane@acme.example", "raj@acme.example", "wang.fang@huaxing.example"})
        self.add_contact(
            "acc-acme",
            {
                "id": "con-jane",
                "name": "Jane Doe",
                "email": "jane@acme.example",
                "phone": "+1 415 555 0142",
                "title": "VP Data",
                "consent": {"email": True, "phone": True, "marketing": False},
            },
        )
        self.add_contact(
            "acc-acme",
            {
                "id": "con-raj",
                "name": "Raj Mehta",
                "email": "raj@acme.example",
                "phone": "+1 415 555 0178",
                "title": "Head of Procurement",
                "consent": {"email": False, "phone": True, "marketing": False},
            },
        )
        self.add_contact(
            "acc-huaxing",
            {
                "id": "con-wang",
                "name": "王芳 Wang Fang",
                "email": "wang.fang@huaxing.example",
                "phone": "+86 21 5555 0188",
                "title": "数据部总监 Head of Data",
                "consent": {"email": True, "phone": True, "marketing": False},
            },
        )
        for account in self.data["accounts"]:
            acc_id, region = account["id"], account["region"]
            chinese = region == "Greater China"
            prefix = PHONE_PREFIX[region]
            if region == "North America" and account["team"] == "east":
                prefix = "+1 212 555"
            target = 6 if account["tier"] == "strategic" else rng.randint(3, 5)
            n = len(self.contacts_of[acc_id])
            while n < target:
                n += 1
                name, local, is_cn = self._person(region, chinese)
                title = rng.choice(CN_TITLES) if is_cn and chinese else rng.choice(TITLES)
                email_ok = rng.random() < 0.82
                self.add_contact(
                    acc_id,
                    {
                        "id": f"con-{acc_id[4:]}-{n}",
                        "name": name,
                        "email": self.unique_email(local, account["domain"]),
                        "phone": f"{prefix} {rng.randint(1000, 9999)}",
                        "title": title,
                        "consent": {
                            "email": email_ok,
                            "phone": rng.random() < 0.6,
                            "marketing": email_ok and rng.random() < 0.2,
                        },
                    },
                )

    def add_opp(self, row: dict[str, Any]) -> None:
        self.data["opportunities"].append(row)
        self.opps_of[row["account_id"]].append(row)

    def fixed_opportunities(self) -> None:
        anchor = self.anchor
        acme = _deal_money(100, "Enterprise", "USD", 0)  # 100 x 1200 = 120000
        self.add_opp(
            {
                "id": "opp-acme-1",
                "account_id": "acc-acme",
                "name": "Acme expansion",
                "stage": "proposal",
                "amount": 120000,
                "currency": "USD",
                "discount_percent": 0,
                "close_date": quarter_end(anchor).isoformat(),
                "probability": 50,
                "owner_id": "u-alice",
                "next_step": "Review the proposal with Jane Doe",
                "seats": 100,
                "cost": acme["cost"],
                "margin_percent": acme["margin_percent"],
            }
        )
        helix_cost = _money(450000 * 0.24)
        self.add_opp(
            {
                "id": "opp-helix-1",
                "account_id": "acc-helix",
                "name": "Helix 500-seat rollout",
                "stage": "negotiation",
                "amount": 450000,
                "currency": "USD",
                "discount_percent": 0,
                "close_date": (anchor + timedelta(days=10)).isoformat(),
                "probability": 75,
                "owner_id": "u-bob",
                "next_step": "Agree go-live date and sign the order form",
                "seats": 500,
                "cost": helix_cost,
                "margin_percent": round((450000 - helix_cost) / 450000 * 100, 1),
            }
        )
        huaxing = _deal_money(300, "Enterprise", "CNY", 10)
        self.add_opp(
            {
                "id": "opp-huaxing-1",
                "account_id": "acc-huaxing",
                "name": "华星科技 Beacon 企业版 Enterprise rollout",
                "stage": "proposal",
                "amount": huaxing["amount"],
                "currency": "CNY",
                "discount_percent": 10,
                "close_date": (quarter_end(anchor) + timedelta(days=45)).isoformat(),
                "probability": 50,
                "owner_id": "u-chen",
                "next_step": "提交中文版报价 Send the Chinese-language quote to 王芳",
                "seats": 300,
                "cost": huaxing["cost"],
                "margin_percent": huaxing["margin_percent"],
            }
        )

    def opportunities(self, total: int = 150) -> None:
        rng, anchor = self.rng, self.anchor
        self.fixed_opportunities()
        n = total - len(self.data["opportunities"])
        weights = {
            "prospecting": 0.14,
            "qualification": 0.17,
            "proposal": 0.15,
            "negotiation": 0.13,
            "closed_won": 0.27,
            "closed_lost": 0.14,
        }
        stages = [s for s in STAGES for _ in range(round(weights[s] * n))]
        stages = (stages + list(OPEN_STAGES) * n)[:n]
        rng.shuffle(stages)
        # The past two quarters and the next three, by calendar quarter.
        start = _quarter_start(_quarter_start(anchor) - timedelta(days=1))
        start = _quarter_start(start - timedelta(days=1))  # first day, two quarters back
        horizon = quarter_end(quarter_end(anchor) + timedelta(days=200))  # three ahead
        account_ids = list(self.accounts)
        counter: dict[str, int] = {a: len(self.opps_of[a]) for a in account_ids}
        # The demo's deals (Acme, Helix, Huaxing) stay the only open ones on their accounts.
        quiet = [a for a in account_ids if a not in ("acc-acme", "acc-helix", "acc-huaxing")]
        for stage in stages:
            pool = account_ids if stage in ("closed_won", "closed_lost") else quiet
            account = self.accounts[rng.choice(pool)]
            acc_id = account["id"]
            counter[acc_id] += 1
            currency = REGION_CURRENCY.get(account["region"], "USD")
            plan = rng.choices(PLANS, weights=(3, 4, 3 if account["tier"] == "strategic" else 1))[0]
            seats = rng.choice((10, 15, 20, 25, 30, 40, 50, 60, 75, 100, 120, 150, 200, 250))
            if account["tier"] == "strategic":
                seats *= 2
            discount = rng.choice((0, 0, 0, 5, 5, 10, 10, 12, 15, 15, 18, 20, 25, 30))
            money = _deal_money(seats, plan, currency, discount)
            if stage in ("closed_won", "closed_lost"):
                close = anchor - timedelta(days=rng.randint(1, (anchor - start).days))
            else:
                close = anchor + timedelta(days=rng.randint(5, (horizon - anchor).days))
            name = rng.choice(OPP_NAMES).format(plan=plan)
            # "华星科技 Huaxing Tech" -> "Huaxing Tech"; other names stay whole.
            short = (
                account["name"].split(" ", 1)[-1]
                if HAN.match(account["name"])
                else (account["name"])
            )
            self.add_opp(
                {
                    "id": f"opp-{acc_id[4:]}-{counter[acc_id]}",
                    "account_id": acc_id,
                    "name": f"{short} {name}" if rng.random() < 0.5 else name,
                    "stage": stage,
                    "amount": money["amount"],
                    "currency": currency,
                    "discount_percent": discount,
                    "close_date": close.isoformat(),
                    "probability": PROBABILITY[stage],
                    "owner_id": account["owner_id"],
                    "next_step": rng.choice(NEXT_STEPS[stage]),
                    "seats": seats,
                    "cost": money["cost"],
                    "margin_percent": money["margin_percent"],
                }
            )
        # A few closed-won deals signed last week, so delivery has planned projects ahead.
        won = [o for o in self.data["opportunities"] if o["stage"] == "closed_won"]
        for opp in won[:5]:
            opp["close_date"] = (anchor - timedelta(days=rng.randint(1, 7))).isoformat()

    def activities(self, total: int = 400) -> None:
        rng, anchor = self.rng, self.anchor
        rows = self.data["activities"]
        jane_day = anchor - timedelta(days=3)
        rows.append(
            {
                "id": "act-acme-1",
                "account_id": "acc-acme",
                "opportunity_id": "opp-acme-1",
                "contact_ids": ["con-jane"],
                "kind": "call",
                "subject": "Call with Jane about expansion",
                "summary": "Jane confirmed 100 Enterprise seats; procurement (Raj) reviews terms.",
                "occurred_at": _iso(_at(jane_day, 16)),
                "author_id": "u-alice",
            }
        )
        rows.append(
            {
                "id": "act-helix-1",
                "account_id": "acc-helix",
                "opportunity_id": "opp-helix-1",
                "contact_ids": self.contacts_of["acc-helix"][:2],
                "kind": "meeting",
                "subject": "Rollout planning with Helix IT",
                "summary": "Helix wants all 500 seats live within six weeks of signature; two open "
                "P1 tickets are a risk to the renewal conversation.",
                "occurred_at": _iso(_at(anchor - timedelta(days=2), 15)),
                "author_id": "u-bob",
            }
        )
        rows.append(
            {
                "id": "act-huaxing-1",
                "account_id": "acc-huaxing",
                "opportunity_id": "opp-huaxing-1",
                "contact_ids": ["con-wang"],
                "kind": "meeting",
                "subject": "与王芳的方案评审 Proposal review with Wang Fang",
                "summary": "王芳确认300个席位，要求数据存储在中国境内，并希望获得10%折扣。",
                "occurred_at": _iso(_at(anchor - timedelta(days=5), 3)),
                "author_id": "u-chen",
            }
        )
        account_ids = list(self.accounts)
        strategic = [a for a in account_ids if self.accounts[a]["tier"] == "strategic"]
        pool = account_ids + strategic * 2  # strategic accounts get more attention
        n = len(rows)
        while len(rows) < total:
            n += 1
            acc_id = rng.choice(pool)
            account = self.accounts[acc_id]
            kind = rng.choices(("call", "meeting", "email", "note"), weights=(4, 3, 4, 2))[0]
            opps = self.opps_of[acc_id]
            opp = rng.choice(opps) if opps and rng.random() < 0.7 else None
            contacts = self.contacts_of[acc_id]
            k = 0 if kind == "note" else min(len(contacts), rng.choice((1, 1, 1, 2, 2, 3)))
            chosen = rng.sample(contacts, k)
            seats = opp["seats"] if opp else rng.choice((20, 50, 100))
            plan = rng.choice(PLANS)
            if account["region"] == "Greater China" and rng.random() < 0.5:
                summary = rng.choice(CN_SUMMARIES).format(n=seats, plan=plan)
            else:
                step = opp["next_step"] if opp and opp["next_step"] else "send a recap"
                summary = rng.choice(ACTIVITY_SUMMARIES).format(
                    n=seats, plan=plan, step=step[0].lower() + step[1:]
                )
            day = self.workday(-182, -1)
            rows.append(
                {
                    "id": f"act-{n:04d}",
                    "account_id": acc_id,
                    "opportunity_id": opp["id"] if opp else None,
                    "contact_ids": chosen,
                    "kind": kind,
                    "subject": rng.choice(ACTIVITY_SUBJECTS[kind]),
                    "summary": summary,
                    "occurred_at": _iso(_at(day, rng.randint(7, 19), rng.choice((0, 15, 30, 45)))),
                    "author_id": account["owner_id"],
                }
            )
        rows.sort(key=lambda r: (r["occurred_at"], r["id"]))

    def tasks(self, total: int = 40) -> None:
        rng, anchor = self.rng, self.anchor
        rows = self.data["tasks"]
        rows.append(
            {
                "id": "tsk-acme-1",
                "subject": "Send revised proposal to Jane Doe",
                "due_date": (anchor + timedelta(days=2)).isoformat(),
                "owner_id": "u-alice",
                "account_id": "acc-acme",
                "opportunity_id": "opp-acme-1",
                "status": "open",
            }
        )
        rows.append(
            {
                "id": "tsk-helix-1",
                "subject": "Confirm Helix go-live week with delivery",
                "due_date": (anchor - timedelta(days=1)).isoformat(),
                "owner_id": "u-bob",
                "account_id": "acc-helix",
                "opportunity_id": "opp-helix-1",
                "status": "open",
            }
        )
        account_ids = list(self.accounts)
        n = 0
        while len(rows) < total:
            n += 1
            account = self.accounts[rng.choice(account_ids)]
            opps = [o for o in self.opps_of[account["id"]] if o["stage"] in OPEN_STAGES]
            opp = rng.choice(opps) if opps and rng.random() < 0.6 else None
            due = self.day(-20, 25)
            status = "open" if due >= anchor or rng.random() < 0.55 else "done"
            short = account["name"]
            rows.append(
                {
                    "id": f"tsk-{n:03d}",
                    "subject": rng.choice(TASK_SUBJECTS).format(acc=short),
                    "due_date": due.isoformat(),
                    "owner_id": account["owner_id"],
                    "account_id": account["id"],
                    "opportunity_id": opp["id"] if opp else None,
                    "status": status,
                }
            )

    def tickets(self, total: int = 120) -> None:
        rng, anchor = self.rng, self.anchor
        rows = self.data["tickets"]
        breach_open = _at(anchor - timedelta(days=1), 13)  # due 21:00 the day before: breached
        recent_open = _at(anchor, 6)  # due 14:00 on the anchor day: not yet breached
        rows.append(
            {
                "id": "tkt-helix-1",
                "account_id": "acc-helix",
                "subject": "Dashboards down for all clinical users",
                "description": "Since yesterday's release no dashboard loads for Helix's 300 "
                "clinical users; they fall back to spreadsheets.",
                "priority": "p1",
                "status": "open",
                "assignee_id": "u-sam",
                "opened_at": _iso(breach_open),
                "sla_due_at": _iso(sla_due("p1", breach_open)),
            }
        )
        rows.append(
            {
                "id": "tkt-helix-2",
                "account_id": "acc-helix",
                "subject": "Patient-volume report shows wrong totals",
                "description": "The daily patient-volume report double counts transfers; the board "
                "pack is due this week.",
                "priority": "p1",
                "status": "open",
                "assignee_id": "u-priya",
                "opened_at": _iso(recent_open),
                "sla_due_at": _iso(sla_due("p1", recent_open)),
            }
        )
        account_ids = [a for a in self.accounts if a != "acc-helix"]
        n = 1000
        while len(rows) < total - 2:  # two more Helix tickets follow
            n += 1
            account = self.accounts[rng.choice(account_ids)]
            priority = rng.choices(("p1", "p2", "p3", "p4"), weights=(3, 20, 47, 30))[0]
            age = rng.randint(1, 60)
            opened = _at(anchor - timedelta(days=age), rng.randint(0, 23), rng.randint(0, 59))
            due = sla_due(priority, opened)
            if priority == "p1":
                status = "closed" if age > 5 else "solved"  # other P1s are all resolved
            elif age > 20:
                status = rng.choices(("closed", "solved", "pending"), weights=(6, 3, 1))[0]
            else:
                status = rng.choices(("open", "pending", "solved", "closed"), weights=(4, 2, 3, 1))[
                    0
                ]
            subject, description = rng.choice(TICKET_TOPICS)
            rows.append(
                {
                    "id": f"tkt-{n}",
                    "account_id": account["id"],
                    "subject": subject,
                    "description": description,
                    "priority": priority,
                    "status": status,
                    "assignee_id": rng.choice(SUPPORT_USERS),
                    "opened_at": _iso(opened),
                    "sla_due_at": _iso(due),
                }
            )
        # A few solved Helix tickets give the account some history.
        for i, (subject, description) in enumerate(TICKET_TOPICS[6:8], start=3):
            opened = _at(anchor - timedelta(days=20 + 9 * i), 10)
            rows.append(
                {
                    "id": f"tkt-helix-{i}",
                    "account_id": "acc-helix",
                    "subject": subject,
                    "description": description,
                    "priority": "p3",
                    "status": "closed",
                    "assignee_id": "u-sam",
                    "opened_at": _iso(opened),
                    "sla_due_at": _iso(sla_due("p3", opened)),
                }
            )

    def projects(self, total: int = 30) -> None:
        rng, anchor = self.rng, self.anchor
        helix = helix_dates(anchor)
        rows = self.data["projects"]
        rows.append(
            {
                "id": "prj-helix",
                "account_id": "acc-helix",
                "opportunity_id": "opp-helix-1",
                "name": "Helix 500-seat rollout",
                "seats": 500,
                "status": "planned",
                "start_date": helix["start"].isoformat(),
                "go_live_date": helix["go_live"].isoformat(),
                "lead_id": "u-dev",
                "effort_days": 45,
            }
        )
        won = [o for o in self.data["opportunities"] if o["stage"] == "closed_won"]
        won.sort(key=lambda o: (o["close_date"], o["id"]), reverse=True)  # newest first
        for opp in won[: total - len(rows) - 2]:
            start = date.fromisoformat(opp["close_date"]) + timedelta(days=rng.randint(7, 21))
            start = _monday(start)
            go_live = start + timedelta(weeks=rng.randint(3, 10))
            status = "planned" if start > anchor else "in_progress" if go_live >= anchor else "live"
            rows.append(
                {
                    "id": f"prj-{opp['id'][4:]}",
                    "account_id": opp["account_id"],
                    "opportunity_id": opp["id"],
                    "name": f"{opp['name']} onboarding",
                    "seats": opp["seats"],
                    "status": status,
                    "start_date": start.isoformat(),
                    "go_live_date": go_live.isoformat(),
                    "lead_id": rng.choice(DELIVERY_USERS),
                    "effort_days": max(5, opp["seats"] // 10),
                }
            )
        extras = [
            ("acc-initech", "Initech premium support onboarding", 80, -70, -40),
            ("acc-sakura", "Sakura data-warehouse connector setup", 150, 5, 30),
        ]
        for i, (acc_id, name, seats, start_off, live_off) in enumerate(extras, start=1):
            start, go_live = anchor + timedelta(days=start_off), anchor + timedelta(days=live_off)
            status = "planned" if start > anchor else "in_progress" if go_live >= anchor else "live"
            rows.append(
                {
                    "id": f"prj-extra-{i}",
                    "account_id": acc_id,
                    "opportunity_id": None,
                    "name": name,
                    "seats": seats,
                    "status": status,
                    "start_date": _monday(start).isoformat(),
                    "go_live_date": go_live.isoformat(),
                    "lead_id": "u-dev",
                    "effort_days": 12,
                }
            )

    def capacity(self, weeks: int = 52) -> None:
        rng, anchor = self.rng, self.anchor
        helix = helix_dates(anchor)
        first = _monday(anchor - timedelta(weeks=4))
        for i in range(weeks):
            week = first + timedelta(weeks=i)
            available = rng.choice((15, 16, 17, 17.5, 18, 18.5, 19, 20))
            if week == helix["full_week"]:
                booked: float = available
            elif week == helix["tight_week"]:
                booked = available - 1
            elif week == helix["free_week"]:
                booked = available - rng.choice((9, 10, 11, 12))
            else:
                # Busy near term, emptier further out; never completely full.
                load = 0.85 if week < anchor + timedelta(weeks=10) else 0.55
                booked = round(available * rng.uniform(load - 0.35, load) * 2) / 2
                booked = min(booked, available - 2)
            self.data["capacity"].append(
                {
                    "team": "delivery",
                    "week_start": week.isoformat(),
                    "available_days": available,
                    "booked_days": booked,
                }
            )

    def build(self) -> Fixture:
        self.users()
        self.products()
        self.accounts_()
        self.contacts()
        self.opportunities()
        self.activities()
        self.tasks()
        self.tickets()
        self.projects()
        self.capacity()
        return self.data


def build_demo_company(*, seed: int = 7, anchor: date) -> Fixture:
    """The demo company as a fixture for `tools.fixtures.load_fixture`; the same (seed, anchor)
    always gives the same data."""
    return _Builder(seed, anchor).build()


def _crm_tables(db: Database) -> list[Any]:
    """Every CRM table present in the database, children before parents."""
    present = set(inspect(db.engine).get_table_names())
    return [t for t in reversed(Base.metadata.sorted_tables) if t.name in present]


def clear_crm(db: Database) -> None:
    """Delete every CRM record (bookkeeping tables included) in one transaction."""
    with db.session() as session:
        session.execute(update(User).values(manager_id=None))
        for table in _crm_tables(db):
            session.execute(table.delete())


def seed_demo(
    db: Database, *, seed: int = 7, anchor: date, replace: bool = False
) -> dict[str, int]:
    """Load the demo company into the CRM; returns the number of rows per table.

    Refuses (ValueError) when the CRM already holds accounts or users, unless `replace` is true,
    which first deletes every CRM record — audit events, approvals, outbox, tool executions,
    consent changes and SLA credits included.
    """
    data = build_demo_company(seed=seed, anchor=anchor)
    validate_fixture(data)  # a bad fixture fails before anything is deleted
    with db.read_session() as session:
        accounts = session.scalar(select(func.count()).select_from(Account)) or 0
        users = session.scalar(select(func.count()).select_from(User)) or 0
    if (accounts or users) and not replace:
        raise ValueError(
            f"The CRM already has {accounts} account(s) and {users} user(s); refusing to seed "
            "the demo company over them (pass replace=True to delete all CRM records first)."
        )
    if replace:
        clear_crm(db)
    return load_fixture(db, data)
