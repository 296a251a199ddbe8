// Words and number formats of the dashboard in Russian (the default) and English.

const WORDS = {
  ru: {
    title: "Аналитика продаж", skip: "К содержимому", menu: "Меню", logout: "Выйти",
    loading: "Загрузка…", empty: "За этот период данных нет",
    emptyHint: "Выберите другой период или снимите фильтры.",
    error: "Ошибка", retry: "Повторить", live: "Онлайн", offline: "Нет связи",
    period: "Период", compare: "Сравнить", tz: "Часовой пояс", all: "Все",
    from: "с", to: "по", apply: "Применить",
    p_today: "Сегодня", p_yesterday: "Вчера", p_this_week: "Эта неделя",
    p_last_week: "Прошлая неделя", p_this_month: "Этот месяц", p_last_month: "Прошлый месяц",
    p_quarter: "Квартал", p_year: "Год", p_custom: "Свой период",
    c_none: "Без сравнения", c_previous_period: "Предыдущий период",
    c_previous_year: "Тот же период год назад",
    pipeline: "Воронка", manager: "Менеджер", channel: "Канал", source: "Источник",
    campaign: "Кампания", group_by: "Группировка", model: "Модель", bucket: "Шаг",
    day: "День", week: "Неделя", month: "Месяц", edges: "Границы сумм",
    // pages
    overview: "Обзор", "sales-funnel": "Воронка продаж", "lead-funnel": "Воронка лидов",
    attribution: "Атрибуция", dynamics: "Динамика", "amount-distribution": "Суммы сделок",
    "repeat-sales": "Повторные продажи", "active-clients": "АКБ", managers: "Менеджеры",
    "weighted-pipeline": "Взвешенная воронка", abc: "ABC клиентов", cohorts: "Когорты",
    "client-profitability": "Доходность клиентов", deal: "Сделка",
    // figures
    leads: "Лиды", deals: "Сделки", deals_opened: "Открыто сделок", won: "Выиграно",
    revenue: "Выручка", average_check: "Средний чек", conversion: "Конверсия", romi: "ROMI",
    paid: "Оплачено", spend: "Расходы", cpl: "CPL", cpo: "CPO", romi_pct: "ROMI",
    drr_pct: "ДРР", stage: "Этап", reached: "Дошли", current: "Сейчас",
    conversion_prev: "Конв. из пред.", conversion_first: "Конв. из первого", amount: "Сумма",
    avg_duration: "Среднее время на этапе", lost: "Проиграно", lost_by_stage: "Проиграно по этапам",
    lost_by_reason: "Причины проигрыша", reason: "Причина", conversion_to_deal: "Лид → сделка",
    conversion_to_won: "Лид → победа", payments: "Платежи", won_amount: "Сумма выигранных",
    previous: "Прошлый период", repeat_deals: "Повторные сделки",
    repeat_deal_share: "Доля повторных сделок", clients_with_won_deal: "Клиенты с победой",
    repeat_clients: "Клиенты с ≥ 2 победами", repeat_client_share: "Доля повторных клиентов",
    won_deals: "Выигранные сделки", active_clients: "Активные клиенты",
    active_clients_previous_period: "Активные в прошлом периоде", win_back: "Вернуть",
    win_back_list: "Кого вернуть: платили в прошлом периоде, но не в этом",
    revenue_previous_period: "Выручка в прошлом периоде", last_paid_at: "Последний платёж",
    client: "Клиент", name: "Имя", deals_won: "Выиграно", avg_cycle_days: "Цикл, дней",
    tasks_done: "Задач выполнено", tasks_overdue: "Задач просрочено",
    activity_per_day: "Активность в день", plan: "План", forecast: "Прогноз",
    forecast_to_plan_pct: "Прогноз к плану", plan_vs_fact: "План и факт",
    probability: "Вероятность", weighted: "Взвешенная сумма", class: "Класс", rank: "Место",
    share_before_pct: "Доля выше", clients: "Клиенты", cohort: "Когорта",
    month_n: "Месяц +", cost: "Себестоимость", margin: "Маржа", bucket_col: "Период",
    revenue_vs_spend: "Выручка и расходы", total: "Итого", of: "из", status: "Статус",
    opened_at: "Открыта", closed_at: "Закрыта", title_col: "Название", received_at: "Получен",
    form_id: "Форма", deal_id: "Сделка", lead_id: "Лид", client_id: "Клиент",
    paid_total: "Оплачено", currency: "Валюта", lost_reason: "Причина", pipeline_id: "Воронка",
    manager_id: "Менеджер", phone_hash: "Телефон (хеш)", email_hash: "E-mail (хеш)",
    lead_source: "Тип лида", prev: "Назад", next: "Вперёд", close: "Закрыть",
    csv: "CSV", rows_count: "строк", timeline: "Этапы", entered_at: "Вошла",
    left_at: "Вышла", duration: "Длительность", amount_changes: "Изменения суммы",
    tasks: "Задачи", touches: "Касания", invoices: "Счета", due_at: "Срок", kind: "Тип",
    at: "Когда", medium: "Тип трафика", open: "открыта", back: "Назад к отчёту",
    not_found: "Не найдено", days: "дн.", hours: "ч", minutes: "мин", seconds: "с",
    new_data: "Данные обновлены", delta: "к прошлому периоду", signed_in_as: "Вы вошли как",
    no_forecast: "Прогноза нет", leads_vs: "Лиды, сделки, победы", lang_other: "English",
    first_touch: "Первое касание", last_touch: "Последнее касание",
    last_non_direct: "Последнее не прямое", linear: "Линейная",
    position_based: "С учётом позиции", time_decay: "С затуханием",
    class_share: "Клиенты и выручка по классам", top_clients: "Самые доходные клиенты",
    invoice_id: "Счёт", paid_at: "Оплачен", payment_id: "Платёж", touch_at: "Когда",
    retention: "Доля платящих снова", share: "Доля", event_type: "Событие", number: "Номер",
    issued_at: "Выставлен", due_date: "Оплатить до", scheduled_at: "Поставлена",
    lead_ids: "Лиды", kinds: "Вид касания", occurred_at: "Когда", lost_at_stage: "Проиграна на этапе",
    updated_at: "Обновлена", version: "Версия", duration_seconds: "Длительность",
  },
  en: {
    title: "Sales analytics", skip: "Skip to content", menu: "Menu", logout: "Sign out",
    loading: "Loading…", empty: "No data for this period",
    emptyHint: "Pick another period or clear the filters.",
    error: "Error", retry: "Retry", live: "Live", offline: "Offline",
    period: "Period", compare: "Compare", tz: "Time zone", all: "All",
    from: "from", to: "to", apply: "Apply",
    p_today: "Today", p_yesterday: "Yesterday", p_this_week: "This week",
    p_last_week: "Last week", p_this_month: "This month", p_last_month: "Last month",
    p_quarter: "Quarter", p_year: "Year", p_custom: "Custom",
    c_none: "No comparison", c_previous_period: "Previous period",
    c_previous_year: "Same period last year",
    pipeline: "Pipeline", manager: "Manager", channel: "Channel", source: "Source",
    campaign: "Campaign", group_by: "Group by", model: "Model", bucket: "Step",
    day: "Day", week: "Week", month: "Month", edges: "Amount edges",
    overview: "Overview", "sales-funnel": "Sales funnel", "lead-funnel": "Lead funnel",
    attribution: "Attribution", dynamics: "Dynamics", "amount-distribution": "Deal amounts",
    "repeat-sales": "Repeat sales", "active-clients": "Active clients", managers: "Managers",
    "weighted-pipeline": "Weighted pipeline", abc: "ABC of clients", cohorts: "Cohorts",
    "client-profitability": "Client profitability", deal: "Deal",
    leads: "Leads", deals: "Deals", deals_opened: "Deals opened", won: "Won",
    revenue: "Revenue", average_check: "Average check", conversion: "Conversion", romi: "ROMI",
    paid: "Paid", spend: "Spend", cpl: "CPL", cpo: "CPO", romi_pct: "ROMI",
    drr_pct: "Ad cost share", stage: "Stage", reached: "Reached", current: "Now",
    conversion_prev: "Conv. from previous", conversion_first: "Conv. from first",
    amount: "Amount", avg_duration: "Average time in stage", lost: "Lost",
    lost_by_stage: "Lost by stage", lost_by_reason: "Lost by reason", reason: "Reason",
    conversion_to_deal: "Lead → deal", conversion_to_won: "Lead → won", payments: "Payments",
    won_amount: "Won amount", previous: "Previous period", repeat_deals: "Repeat deals",
    repeat_deal_share: "Repeat deal share", clients_with_won_deal: "Clients who won",
    repeat_clients: "Clients with ≥ 2 wins", repeat_client_share: "Repeat client share",
    won_deals: "Won deals", active_clients: "Active clients",
    active_clients_previous_period: "Active in the previous period", win_back: "Win back",
    win_back_list: "Win back: paid in the previous period, not in this one",
    revenue_previous_period: "Revenue, previous period", last_paid_at: "Last payment",
    client: "Client", name: "Name", deals_won: "Won", avg_cycle_days: "Cycle, days",
    tasks_done: "Tasks done", tasks_overdue: "Tasks overdue",
    activity_per_day: "Activity per day", plan: "Plan", forecast: "Forecast",
    forecast_to_plan_pct: "Forecast to plan", plan_vs_fact: "Plan and fact",
    probability: "Probability", weighted: "Weighted amount", class: "Class", rank: "Rank",
    share_before_pct: "Share above", clients: "Clients", cohort: "Cohort",
    month_n: "Month +", cost: "Cost", margin: "Margin", bucket_col: "Period",
    revenue_vs_spend: "Revenue and spend", total: "Total", of: "of", status: "Status",
    opened_at: "Opened", closed_at: "Closed", title_col: "Title", received_at: "Received",
    form_id: "Form", deal_id: "Deal", lead_id: "Lead", client_id: "Client",
    paid_total: "Paid", currency: "Currency", lost_reason: "Reason", pipeline_id: "Pipeline",
    manager_id: "Manager", phone_hash: "Phone (hash)", email_hash: "E-mail (hash)",
    lead_source: "Lead type", prev: "Previous", next: "Next", close: "Close",
    csv: "CSV", rows_count: "rows", timeline: "Stages", entered_at: "Entered",
    left_at: "Left", duration: "Duration", amount_changes: "Amount changes",
    tasks: "Tasks", touches: "Touches", invoices: "Invoices", due_at: "Due", kind: "Kind",
    at: "When", medium: "Medium", open: "open", back: "Back to the report",
    not_found: "Not found", days: "d", hours: "h", minutes: "min", seconds: "s",
    new_data: "Data refreshed", delta: "vs previous", signed_in_as: "Signed in as",
    no_forecast: "No forecast", leads_vs: "Leads, deals, wins", lang_other: "Русский",
    first_touch: "First touch", last_touch: "Last touch", last_non_direct: "Last non-direct",
    linear: "Linear", position_based: "Position based", time_decay: "Time decay",
    class_share: "Clients and revenue by class", top_clients: "Most profitable clients",
    invoice_id: "Invoice", paid_at: "Paid", payment_id: "Payment", touch_at: "When",
    retention: "Share paying again", share: "Share", event_type: "Event", number: "Number",
    issued_at: "Issued", due_date: "Due date", scheduled_at: "Scheduled", lead_ids: "Leads",
    kinds: "Touch kind", occurred_at: "When", lost_at_stage: "Lost at stage",
    updated_at: "Updated", version: "Version", duration_seconds: "Duration",
  },
};

export const LANGS = ["ru", "en"];
const LOCALES = { ru: "ru-RU", en: "en-GB" };

export function makeI18n(lang, currency, timeZone) {
  const words = WORDS[lang] || WORDS.ru;
  const locale = LOCALES[lang] || LOCALES.ru;
  const whole = new Intl.NumberFormat(locale, { maximumFractionDigits: 0 });
  const decimal = new Intl.NumberFormat(locale, { maximumFractionDigits: 2 });
  const money = (digits) =>
    new Intl.NumberFormat(locale, {
      style: "currency", currency, minimumFractionDigits: digits, maximumFractionDigits: digits,
    });
  const money0 = money(0);
  const money2 = money(2);
  const dateTime = new Intl.DateTimeFormat(locale, {
    timeZone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit",
    minute: "2-digit",
  });
  const dateOnly = new Intl.DateTimeFormat(locale, {
    timeZone: "UTC", year: "numeric", month: "short", day: "numeric",
  });
  const monthOnly = new Intl.DateTimeFormat(locale, {
    timeZone: "UTC", year: "numeric", month: "short",
  });
  const missing = "—";
  const isNone = (v) => v === null || v === undefined || v === "";

  const fmt = {
    int: (v) => (isNone(v) ? missing : whole.format(Number(v))),
    num: (v) => (isNone(v) ? missing : decimal.format(Number(v))),
    money: (v) => {
      if (isNone(v)) return missing;
      const n = Number(v);
      return (Number.isInteger(n) ? money0 : money2).format(n);
    },
    // shares come as fractions (0.75), `*_pct` figures as percents (24.73)
    frac: (v) => (isNone(v) ? missing : `${decimal.format(Number(v) * 100)} %`),
    pct: (v) => (isNone(v) ? missing : `${decimal.format(Number(v))} %`),
    days: (v) => (isNone(v) ? missing : `${decimal.format(Number(v))} ${words.days}`),
    duration: (seconds) => {
      if (isNone(seconds)) return missing;
      const s = Number(seconds);
      if (s >= 86400) return `${decimal.format(s / 86400)} ${words.days}`;
      if (s >= 3600) return `${decimal.format(s / 3600)} ${words.hours}`;
      if (s >= 60) return `${decimal.format(s / 60)} ${words.minutes}`;
      return `${decimal.format(s)} ${words.seconds}`;
    },
    datetime: (v) => (isNone(v) ? missing : dateTime.format(new Date(v))),
    // a local calendar date as the API writes it (YYYY-MM-DD or YYYY-MM)
    date: (v) => (isNone(v) ? missing : dateOnly.format(new Date(`${v}T00:00:00Z`))),
    month: (v) => (isNone(v) ? missing : monthOnly.format(new Date(`${v}-01T00:00:00Z`))),
    text: (v) => (isNone(v) ? missing : String(v)),
  };
  const t = (key) => words[key] ?? key;
  return { t, fmt, lang, locale, currency, timeZone };
}
