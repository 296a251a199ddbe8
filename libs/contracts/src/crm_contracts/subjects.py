"""Subject names on the bus: `crm.<context>.<event>` (DESIGN §4)."""

ALL = "crm.>"
LEADS_RECEIVED = "crm.leads.received"
DEALS_ALL = "crm.deals.>"
DEALS_OPENED = "crm.deals.opened"
DEALS_STAGE_CHANGED = "crm.deals.stage_changed"
DLQ_PREFIX = "crmdlq"  # crmdlq.<original subject>; kept outside crm.> so replay never sees it
