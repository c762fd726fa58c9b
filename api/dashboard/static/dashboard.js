// 督查看板: reads /api/v1 with the reader's token; shows only what the API lets them see.
// No framework, no CDN: plotly.js comes from the server (the installed plotly package).
"use strict";

(() => {
  const API = "/api/v1";
  const TOKEN_KEY = "linkage.token";
  const ALERTS_EVERY_MS = 5000;
  const STATS_EVERY_MS = 30000;
  const ZONE = "Asia/Shanghai";
  const LEVELS = ["village", "township", "county"];
  const LEVEL_LABEL = { grid: "网格", village: "村级", township: "乡镇级", county: "县级" };
  const OUTCOME_LABEL = {
    resolved: "办结",
    escalated_on_request: "主动上报",
    escalated_on_timeout: "超时上报",
    transferred: "转派",
    withdrawn: "撤回",
  };
  const REASON_LABEL = { registered: "登记", escalated: "上报", transferred: "转派", reopened: "重办" };
  const SATISFACTION_LABEL = { satisfied: "满意", basically_satisfied: "基本满意", unsatisfied: "不满意" };
  const ROLE_LABEL = { clerk: "经办人", leader: "负责人", supervisor: "督查", department: "部门", admin: "管理员" };
  const COLORS = { village: "#2e9d5b", township: "#1d64c2", county: "#8a4fbf", yellow: "#e0a100", red: "#d23c3c" };
  const FONT = { family: '"Noto Sans CJK SC", "WenQuanYi Micro Hei", "Microsoft YaHei", sans-serif', size: 12 };
  const PLOT_CONFIG = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["lasso2d", "select2d"] };

  const state = {
    stats: null,
    rankKind: "township",
    rankChosen: false, // the reader picked a tab: keep it
    categoriesLoaded: false,
    timers: [],
    busy: { stats: false, alerts: false },
    view: "issues",
  };
  // Other views of the page (deliberations.js, duties.js), made by recordView: start, stop, refresh,
  // show, route, open.
  const views = [];

  const $ = (id) => document.getElementById(id);

  // ---- small DOM helpers (text only: never innerHTML with data) -------------------------------

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function fillBody(table, rows, columns, emptyText) {
    const body = table.tBodies[0];
    body.replaceChildren(
      ...(rows.length ? rows : [el("tr", { class: "empty" }, el("td", { colspan: columns }, emptyText))]),
    );
  }

  // ---- formatting ------------------------------------------------------------------------------

  const pct = (v) => (v === null || v === undefined ? "—" : `${(v * 100).toFixed(1)}%`);
  const score = (v) => (v === null || v === undefined ? "—" : (v * 100).toFixed(1));

  // Staff's 回访 by role: "督查 2、负责人 1" ("" when staff recorded none).
  function staffRoles(rates) {
    return Object.entries(rates.feedback_by)
      .filter(([role, n]) => role !== "citizen" && n)
      .map(([role, n]) => `${ROLE_LABEL[role] || role} ${n}`)
      .join("、");
  }

  // Whose word the resolution and satisfaction rates rest on.
  function feedbackSplit(rates) {
    const roles = staffRoles(rates);
    return `回访评价 ${rates.feedback} 件：群众自评 ${rates.feedback_by_citizen}，回访录入 ${rates.feedback_by_staff}${roles ? `（${roles}）` : ""}`;
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "—";
    const minutes = Math.round(seconds / 60);
    const days = Math.floor(minutes / 1440);
    const hours = Math.floor((minutes % 1440) / 60);
    if (days) return `${days}天${hours}小时`;
    if (hours) return `${hours}小时${minutes % 60}分`;
    return `${minutes}分钟`;
  }

  function when(iso) {
    if (!iso) return "—";
    return new Date(iso).toLocaleString("zh-CN", {
      timeZone: ZONE,
      hour12: false,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
    });
  }

  // "剩余 5小时" / "已超 2天3小时"; the server's word on overdue wins over this browser's clock.
  function remaining(iso, overdue) {
    if (!iso) return { text: overdue ? "已超期" : "—", cls: overdue ? "late" : "" };
    const ms = new Date(iso).getTime() - Date.now();
    const text = duration(Math.abs(ms) / 1000);
    if (ms < 0) return { text: `已超 ${text}`, cls: "late" };
    if (overdue) return { text: "已超期", cls: "late" };
    return { text: `剩余 ${text}`, cls: ms < 86400000 ? "soon" : "" };
  }

  // Plotly ignores UTC offsets in date strings: hand it wall-clock times of the county's zone.
  function plotTime(value) {
    return new Date(value).toLocaleString("sv-SE", { timeZone: ZONE, hour12: false });
  }

  function localDate(date) {
    return date.toLocaleDateString("en-CA", { timeZone: ZONE }); // YYYY-MM-DD
  }

  function addDays(ymd, days) {
    const d = new Date(`${ymd}T12:00:00+08:00`);
    d.setUTCDate(d.getUTCDate() + days);
    return localDate(d);
  }

  // ---- API -------------------------------------------------------------------------------------

  class AuthError extends Error {}

  function token() {
    return sessionStorage.getItem(TOKEN_KEY);
  }

  async function api(path, params) {
    const url = new URL(API + path, location.origin);
    for (const [key, value] of Object.entries(params || {})) {
      if (value !== "" && value !== null && value !== undefined) url.searchParams.set(key, value);
    }
    const r = await fetch(url, { headers: { Authorization: `Bearer ${token()}`, Accept: "application/json" } });
    if (r.status === 401) {
      signOut("登录已失效，请重新登录");
      throw new AuthError("401");
    }
    const body = await r.json().catch(() => null);
    if (!r.ok) throw new Error((body && (body.detail || body.title)) || `${r.status} ${r.statusText}`);
    return body;
  }

  function showError(error) {
    if (error instanceof AuthError) return;
    const banner = $("error-banner");
    banner.textContent = `加载失败：${error.message}`;
    banner.hidden = false;
  }

  // ---- sign-in ---------------------------------------------------------------------------------

  async function signIn(event) {
    event.preventDefault();
    const error = $("login-error");
    error.textContent = "";
    $("login-submit").disabled = true;
    try {
      const r = await fetch(`${API}/auth/token`, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ username: $("username").value.trim(), password: $("password").value }),
      });
      const body = await r.json().catch(() => null);
      if (!r.ok) {
        error.textContent = (body && body.detail) || "登录失败";
        return;
      }
      sessionStorage.setItem(TOKEN_KEY, body.access_token);
      $("password").value = "";
      await start();
    } catch (e) {
      error.textContent = `无法连接服务器：${e.message}`;
    } finally {
      $("login-submit").disabled = false;
    }
  }

  function signOut(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    for (const timer of state.timers) clearInterval(timer);
    state.timers = [];
    state.categoriesLoaded = false;
    $("app-view").hidden = true;
    $("who").hidden = true;
    $("issue-modal").hidden = true;
    for (const v of views) v.stop();
    $("login-view").hidden = false;
    $("login-error").textContent = message || "";
  }

  // ---- filters ---------------------------------------------------------------------------------

  function filters() {
    const params = { unit: $("filter-township").value, category: $("filter-category").value };
    const period = $("filter-period").value;
    const today = localDate(new Date());
    if (period === "custom") {
      params.since = $("filter-since").value;
      params.until = $("filter-until").value ? addDays($("filter-until").value, 1) : "";
    } else if (period === "year") {
      params.since = `${today.slice(0, 4)}-01-01`;
    } else if (period !== "all") {
      params.since = addDays(today, 1 - Number(period));
    }
    return params;
  }

  async function loadTownships() {
    const units = await api("/units", { kind: "township", limit: 500 });
    const select = $("filter-township");
    select.replaceChildren(
      el("option", { value: "" }, "全部"),
      ...units.data.map((u) => el("option", { value: u.code }, u.name)),
    );
    // A village clerk has no township to choose; a township sees only its own.
    select.closest("label").hidden = units.data.length < 2;
  }

  function loadCategories(stats) {
    if (state.categoriesLoaded) return;
    const select = $("filter-category");
    const chosen = select.value;
    const sorted = [...stats.by_category].sort((a, b) => a.code.localeCompare(b.code));
    select.replaceChildren(
      el("option", { value: "" }, "全部类别"),
      ...sorted.map((c) => el("option", { value: c.code }, c.name)),
    );
    select.value = chosen;
    state.categoriesLoaded = true;
  }

  function onFilterChange() {
    $("custom-period").hidden = state.view !== "issues" || $("filter-period").value !== "custom";
    refreshAll();
    for (const v of views) v.refresh();
  }

  // ---- refresh ---------------------------------------------------------------------------------

  async function refreshStats() {
    if (state.busy.stats) return;
    state.busy.stats = true;
    try {
      const stats = await api("/stats", filters());
      state.stats = stats;
      loadCategories(stats);
      renderStats(stats);
      $("error-banner").hidden = true;
    } catch (e) {
      showError(e);
    } finally {
      state.busy.stats = false;
    }
  }

  async function refreshAlerts() {
    if (state.busy.alerts) return;
    state.busy.alerts = true;
    try {
      const alerts = await api("/stats/alerts", { ...filters(), limit: 100 });
      renderAlerts(alerts);
      $("updated").textContent = `实时刷新 · ${new Date().toLocaleTimeString("zh-CN", { timeZone: ZONE, hour12: false })}`;
    } catch (e) {
      showError(e);
    } finally {
      state.busy.alerts = false;
    }
  }

  function refreshAll() {
    return Promise.all([refreshStats(), refreshAlerts()]);
  }

  // ---- statistics ------------------------------------------------------------------------------

  function layout(extra) {
    return {
      margin: { t: 10, r: 10, b: 40, l: 46 },
      font: FONT,
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)",
      showlegend: false,
      ...extra,
    };
  }

  // A count axis: whole numbers only, one tick per unit while the numbers are small.
  function countAxis(values) {
    const top = Math.max(0, ...values.filter((v) => v !== null));
    return { rangemode: "tozero", tickformat: "d", ...(top <= 5 ? { dtick: 1, range: [0, top + 0.5] } : {}) };
  }

  function plot(id, data, extra) {
    return Plotly.react($(id), data, layout(extra), PLOT_CONFIG);
  }

  function renderStats(s) {
    $("scope").textContent = s.unit.name;
    $("kpi-total").textContent = s.total;
    $("kpi-open").textContent = s.open;
    $("kpi-warning").textContent = s.warning;
    $("kpi-overdue").textContent = s.overdue;
    $("kpi-resolved").textContent = s.resolved;
    $("kpi-median").textContent = duration(s.time_to_resolve.median_seconds);
    $("kpi-p90").textContent = duration(s.time_to_resolve.p90_seconds);
    $("kpi-composite").textContent = score(s.rates.composite);

    const levelNames = LEVELS.map((l) => LEVEL_LABEL[l]);
    const levelColors = LEVELS.map((l) => COLORS[l]);
    plot(
      "chart-open-by-level",
      [{
        type: "bar",
        x: levelNames,
        y: LEVELS.map((l) => s.open_by_level[l] || 0),
        marker: { color: levelColors },
        text: LEVELS.map((l) => String(s.open_by_level[l] || 0)),
        textposition: "auto",
        hovertemplate: "%{x}：%{y} 件<extra></extra>",
      }],
      { yaxis: countAxis(LEVELS.map((l) => s.open_by_level[l] || 0)) },
    );

    plot(
      "chart-funnel",
      [{
        type: "funnel",
        y: ["登记受理", "上报乡镇", "上报县级", "曾经超期"],
        x: [s.funnel.village, s.funnel.township, s.funnel.county, s.overdue_total],
        textinfo: "value+percent initial",
        marker: { color: [COLORS.village, COLORS.township, COLORS.county, COLORS.red] },
        hovertemplate: "%{y}：%{x} 件<extra></extra>",
      }],
      { margin: { t: 10, r: 10, b: 20, l: 70 } },
    );

    const resolvedAt = LEVELS.map((l) => Math.round((s.resolution_share[l] || 0) * s.resolved));
    plot(
      "chart-share",
      [{
        type: "pie",
        hole: 0.45,
        labels: LEVELS.map((l) => `${LEVEL_LABEL[l]}办结`),
        values: resolvedAt,
        marker: { colors: levelColors },
        sort: false,
        textinfo: "label+percent",
        hovertemplate: "%{label}：%{value} 件（%{percent}）<extra></extra>",
      }],
      {
        margin: { t: 10, r: 10, b: 10, l: 10 },
        annotations: s.resolved ? [] : [{ text: "暂无办结", showarrow: false, font: { size: 14 } }],
      },
    );

    plot(
      "chart-on-time",
      [{
        type: "bar",
        x: levelNames,
        y: LEVELS.map((l) => (s.on_time[l] === null ? 0 : s.on_time[l] * 100)),
        text: LEVELS.map((l) => pct(s.on_time[l])),
        textposition: "auto",
        marker: { color: levelColors },
        hovertemplate: "%{x}按时率：%{text}<extra></extra>",
      }],
      { yaxis: { range: [0, 105], ticksuffix: "%" } },
    );

    // Townships when the scope holds several, else the villages of the one township in view.
    const byTownship = s.township_rankings.length > 1;
    const units = (byTownship ? s.township_rankings : s.village_rankings).slice().sort((a, b) => a.unit.code.localeCompare(b.unit.code));
    $("rates-title").textContent = byTownship ? "各乡镇（街道）三率" : "各村（社区）三率";
    $("feedback-by").textContent = `${s.unit.name}合计 ${feedbackSplit(s.rates)}`;
    const names = units.map((u) => u.unit.name);
    const rate = (key) => units.map((u) => (u.rates[key] === null ? null : u.rates[key] * 100));
    plot(
      "chart-rates",
      [
        { type: "bar", name: "响应率", x: names, y: rate("response"), marker: { color: "#7aa6e0" } },
        { type: "bar", name: "解决率", x: names, y: rate("resolution"), marker: { color: COLORS.township } },
        { type: "bar", name: "满意率", x: names, y: rate("satisfaction"), marker: { color: COLORS.village } },
        {
          type: "scatter",
          mode: "markers",
          name: "综合得分",
          x: names,
          y: rate("composite"),
          marker: { color: COLORS.red, size: 9, symbol: "diamond" },
        },
      ],
      {
        barmode: "group",
        showlegend: true,
        legend: { orientation: "h", y: 1.12 },
        margin: { t: 30, r: 10, b: 70, l: 46 },
        yaxis: { range: [0, 105], ticksuffix: "%" },
        xaxis: { tickangle: -30, automargin: true },
      },
    );

    const points = s.trend.points;
    const x = points.map((p) => p.start);
    plot(
      "chart-trend",
      [
        { type: "scatter", mode: "lines+markers", name: "登记", x, y: points.map((p) => p.registered), line: { color: COLORS.township } },
        { type: "scatter", mode: "lines+markers", name: "办结", x, y: points.map((p) => p.resolved), line: { color: COLORS.village } },
        { type: "scatter", mode: "lines+markers", name: "新增超期", x, y: points.map((p) => p.overdue), line: { color: COLORS.red } },
      ],
      {
        showlegend: true,
        legend: { orientation: "h", y: 1.12 },
        margin: { t: 30, r: 10, b: 40, l: 46 },
        xaxis: {
          type: "date",
          tickformat: s.trend.bucket === "week" ? "%m-%d 周" : "%m-%d",
          // One tick per point while they fit, so a day never shows twice.
          ...(points.length <= 16 ? { tickmode: "array", tickvals: x } : {}),
        },
        yaxis: countAxis(points.flatMap((p) => [p.registered, p.resolved, p.overdue])),
        annotations: points.length ? [] : [{ text: "该时段暂无数据", showarrow: false, font: { size: 14 } }],
      },
    );

    if (!state.rankChosen) {
      showRankKind(s.township_rankings.length > 1 || !s.village_rankings.length ? "township" : "village");
    }
    renderRankings();
  }

  function showRankKind(kind) {
    state.rankKind = kind;
    for (const t of document.querySelectorAll(".tab")) t.classList.toggle("active", t.dataset.kind === kind);
  }

  function renderRankings() {
    const s = state.stats;
    if (!s) return;
    const entries = state.rankKind === "township" ? s.township_rankings : s.village_rankings;
    const red = entries.filter((e) => e.rates.composite !== null).slice(0, 10);
    fillBody(
      $("red-list"),
      red.map((e) =>
        el(
          "tr",
          {},
          el("td", { class: e.rank <= 3 ? "medal" : "" }, e.rank),
          el("td", {}, e.unit.name),
          el("td", { class: "num" }, score(e.rates.composite)),
          el("td", { class: "num" }, pct(e.rates.response)),
          el("td", { class: "num" }, pct(e.rates.resolution)),
          el("td", { class: "num" }, pct(e.rates.satisfaction)),
          el("td", { class: "num" }, e.total),
          el("td", { class: "num" }, e.rates.feedback_by_citizen),
          el("td", { class: "num", title: staffRoles(e.rates) || null }, e.rates.feedback_by_staff),
        ),
      ),
      9,
      "暂无评价数据",
    );
    const black = entries
      .filter((e) => e.overdue_total > 0 || e.overdue > 0)
      .sort((a, b) => a.overdue_rank - b.overdue_rank)
      .slice(0, 10);
    fillBody(
      $("black-list"),
      black.map((e) =>
        el(
          "tr",
          {},
          el("td", { class: "black" }, e.overdue_rank),
          el("td", {}, e.unit.name),
          el("td", { class: "num" }, e.overdue_total),
          el("td", { class: "num" }, e.overdue),
          el("td", { class: "num" }, e.open),
          el("td", { class: "num" }, score(e.rates.composite)),
        ),
      ),
      6,
      "暂无超期",
    );
  }

  // ---- alert lists -----------------------------------------------------------------------------

  function alertRow(a) {
    const left = remaining(a.deadline, a.overdue);
    return el(
      "tr",
      { class: "clickable", dataset: { issueId: a.id }, title: "查看流转时间线", onclick: () => openIssue(a.id) },
      el("td", {}, el("a", { href: `/dashboard/issues/${a.id}`, onclick: (e) => e.preventDefault() }, a.title), a.urgency === "urgent" ? " 【急】" : ""),
      el("td", {}, a.category_name || a.category),
      el("td", {}, a.township ? a.township.name : "—"),
      el("td", {}, a.unit.name),
      el("td", {}, a.level_label),
      el("td", { class: left.cls, title: when(a.deadline) }, left.text),
      el("td", { class: "num" }, a.warnings_sent),
    );
  }

  function renderAlerts(alerts) {
    for (const kind of ["warning", "overdue"]) {
      const list = alerts[kind];
      $(`${kind}-count`).textContent = list.count;
      const more = list.count > list.data.length ? [el("tr", { class: "empty" }, el("td", { colspan: 7 }, `另有 ${list.count - list.data.length} 件未显示`))] : [];
      fillBody($(`${kind}-list`), [...list.data.map(alertRow), ...more], 7, kind === "warning" ? "暂无预警事项" : "暂无超期事项");
    }
  }

  // ---- one issue's timeline --------------------------------------------------------------------

  function eventDetail(e, units) {
    const d = e.data || {};
    const parts = [];
    if (d.outcome) parts.push(OUTCOME_LABEL[d.outcome] || d.outcome);
    for (const key of ["note", "summary", "reason", "comment", "contribution"]) {
      if (d[key]) parts.push(REASON_LABEL[d[key]] || d[key]);
    }
    if (d.departments) parts.push(`部门：${d.departments.map((c) => units[c] || c).join("、")}`);
    if (d.to_unit) parts.push(`至 ${units[d.to_unit] || d.to_unit}`);
    if (d.deadline && e.type !== "overdue") parts.push(`期限 ${when(d.deadline)}`);
    if (d.satisfaction) parts.push(`${d.solved ? "已解决" : "未解决"}，${SATISFACTION_LABEL[d.satisfaction] || d.satisfaction}`);
    if (d.term) parts.push(`延期 ${d.term}`);
    return parts.join("；");
  }

  // A record's events, oldest first: when, what, who, and ``detail(e)``'s words (and links).
  function timeline(id, events, detail) {
    return el(
      "ol",
      { class: "timeline", id },
      events.map((e) =>
        el(
          "li",
          { class: `ev-${e.type}` },
          el("time", { datetime: e.at }, when(e.at)),
          el("strong", {}, e.label),
          el("span", { class: "actor" }, e.actor.name || e.actor.user),
          el("span", { class: "detail" }, detail(e)),
        ),
      ),
    );
  }

  // The issue's 'deliberation' event leads to that deliberation's own timeline.
  function deliberationLink(e) {
    const id = e.type === "deliberation" && e.data && e.data.deliberation_id;
    if (!id) return null;
    const topic = e.data.topic ? `议题：${e.data.topic}` : "";
    return el(
      "span",
      {},
      topic,
      el(
        "a",
        {
          class: "link deliberation-link",
          href: `/dashboard/deliberations/${encodeURIComponent(id)}`,
          onclick: (event) => {
            event.preventDefault();
            $("issue-modal").hidden = true;
            showView("deliberations");
            views.find((v) => v.name === "deliberations").open(id);
          },
        },
        "查看协商议事",
      ),
    );
  }

  function renderIssue(issue) {
    const tags = el(
      "div",
      { class: "tags" },
      el("span", {}, issue.status_label),
      el("span", {}, LEVEL_LABEL[issue.level] || issue.level),
      el("span", {}, issue.category_name || issue.category),
      el("span", {}, issue.urgency === "urgent" ? "紧急" : "一般"),
      issue.overdue ? el("span", { class: "red" }, "超期") : null,
      issue.provisional ? el("span", { class: "yellow" }, "期限待定（日历未公布）") : null,
    );
    const head = el(
      "div",
      { class: "issue-head" },
      el("h2", { id: "issue-title" }, issue.title),
      tags,
      el("p", {}, `查询码 ${issue.tracking_code} · 登记 ${when(issue.registered_at)} · 当前 ${issue.unit.name} · 期限 ${when(issue.deadline)}`),
      el("p", {}, issue.description),
    );

    const levels = el(
      "table",
      { id: "issue-levels" },
      el("thead", {}, el("tr", {}, ["层级", "单位", "到达", "签收", "期限", "离开", "结果", "按时"].map((h) => el("th", {}, h)))),
      el(
        "tbody",
        {},
        issue.levels.map((l) =>
          el(
            "tr",
            {},
            el("td", {}, LEVEL_LABEL[l.level] || l.level),
            el("td", {}, l.unit_name),
            el("td", {}, when(l.entered_at)),
            el("td", {}, when(l.accepted_at)),
            el("td", {}, when(l.deadline), l.extended ? "（已延期）" : ""),
            el("td", {}, when(l.left_at)),
            el("td", {}, l.outcome ? OUTCOME_LABEL[l.outcome] || l.outcome : "办理中"),
            el("td", { class: l.on_time === false ? "late" : "" }, l.on_time === null ? "—" : l.on_time ? "是" : "否"),
          ),
        ),
      ),
    );

    const departments = issue.departments.length
      ? el(
          "table",
          { id: "issue-departments" },
          el("thead", {}, el("tr", {}, ["部门", "吹哨", "报到期限", "报到", "按时", "意见"].map((h) => el("th", {}, h)))),
          el(
            "tbody",
            {},
            issue.departments.map((d) =>
              el(
                "tr",
                {},
                el("td", {}, d.name),
                el("td", {}, when(d.whistled_at)),
                el("td", {}, when(d.report_deadline)),
                el("td", {}, when(d.reported_at)),
                el("td", { class: d.on_time === false ? "late" : "" }, d.on_time === null ? "—" : d.on_time ? "是" : "否"),
                el("td", {}, d.contribution || ""),
              ),
            ),
          ),
        )
      : el("p", { class: "hint", id: "issue-departments" }, "未吹哨部门");

    // Names for the codes events carry: units from the levels, departments from the calls.
    const units = {};
    for (const l of issue.levels) units[l.unit] = l.unit_name;
    for (const d of issue.departments) units[d.department] = d.name;
    const events = timeline("issue-events", issue.events, (e) => [eventDetail(e, units), deliberationLink(e)]);

    const outcome = [];
    if (issue.resolution) {
      outcome.push(el("p", {}, `办结：${LEVEL_LABEL[issue.resolution.level] || issue.resolution.level} ${issue.resolution.unit_name || issue.resolution.unit} · ${when(issue.resolution.at)} · ${issue.resolution.summary || ""}`));
    }
    if (issue.feedback && issue.feedback.satisfaction) {
      outcome.push(el("p", {}, `评价：${issue.feedback.solved ? "已解决" : "未解决"}，${SATISFACTION_LABEL[issue.feedback.satisfaction] || issue.feedback.satisfaction}${issue.feedback.comment ? `（${issue.feedback.comment}）` : ""}`));
    }

    $("issue-detail").replaceChildren(
      head,
      el("h3", { class: "section-title" }, "流转层级与期限"),
      el("div", { id: "chart-issue-levels", class: "chart" }),
      levels,
      el("h3", { class: "section-title" }, "吹哨报到"),
      departments,
      ...(outcome.length ? [el("h3", { class: "section-title" }, "办理结果"), ...outcome] : []),
      el("h3", { class: "section-title" }, `事件（${issue.events.length}）`),
      events,
    );
    renderLevelChart(issue);
  }

  // Each stay as a bar from arrival to departure (or now), its deadline as a red mark.
  function renderLevelChart(issue) {
    const rows = issue.levels.map((l, i) => `${i + 1}. ${LEVEL_LABEL[l.level] || l.level} ${l.unit_name}`);
    // An open stay lasts until now — or until the latest event, if this browser's clock is behind.
    const now = Math.max(Date.now(), ...issue.events.map((e) => Date.parse(e.at)));
    const stays = issue.levels.map((l) => {
      const entered = new Date(l.entered_at).getTime();
      return Math.max((l.left_at ? new Date(l.left_at).getTime() : now) - entered, 0);
    });
    plot(
      "chart-issue-levels",
      [
        {
          type: "bar",
          orientation: "h",
          name: "停留",
          y: rows,
          x: stays,
          base: issue.levels.map((l) => plotTime(l.entered_at)),
          marker: { color: issue.levels.map((l) => (l.on_time === false ? COLORS.red : COLORS[l.level] || COLORS.township)) },
          hovertemplate: "%{y}<extra></extra>",
        },
        {
          type: "scatter",
          mode: "markers",
          name: "期限",
          y: rows,
          x: issue.levels.map((l) => plotTime(l.deadline)),
          marker: { symbol: "line-ns-open", size: 18, color: COLORS.red, line: { width: 3 } },
          hovertemplate: "期限 %{x}<extra></extra>",
        },
      ],
      {
        margin: { t: 10, r: 20, b: 30, l: 170 },
        xaxis: { type: "date" },
        yaxis: { autorange: "reversed" },
        height: 60 + 40 * rows.length,
      },
    );
  }

  async function openIssue(id, push = true) {
    const modal = $("issue-modal");
    $("issue-detail").replaceChildren(el("p", {}, "加载中…"));
    modal.hidden = false;
    if (push && location.pathname !== `/dashboard/issues/${id}`) history.pushState({ issue: id }, "", `/dashboard/issues/${id}`);
    try {
      renderIssue(await api(`/issues/${encodeURIComponent(id)}`));
    } catch (e) {
      if (!(e instanceof AuthError)) $("issue-detail").replaceChildren(el("p", { class: "error" }, `无法加载事项：${e.message}`));
    }
  }

  function closeIssue(push = true) {
    $("issue-modal").hidden = true;
    const home = state.view === "issues" ? "/dashboard" : `/dashboard/${state.view}`;
    if (push && location.pathname !== home) history.pushState({}, "", home);
  }

  // ---- views -----------------------------------------------------------------------------------

  // The views with a path of their own (/dashboard/<view>, /dashboard/<view>/<id>).
  const PATH_VIEWS = ["deliberations", "duties"];

  function viewInPath() {
    return PATH_VIEWS.find((v) => location.pathname.startsWith(`/dashboard/${v}`)) || "issues";
  }

  function showView(view) {
    state.view = view;
    $("issues-view").hidden = view !== "issues";
    for (const label of document.querySelectorAll(".issues-filter")) label.hidden = view !== "issues";
    $("custom-period").hidden = view !== "issues" || $("filter-period").value !== "custom";
    for (const a of document.querySelectorAll("#views a")) a.classList.toggle("active", a.dataset.view === view);
    for (const v of views) v.show(view);
    // Charts drawn while hidden take their size when shown.
    if (view === "issues") for (const chart of document.querySelectorAll("#issues-view .js-plotly-plot")) Plotly.Plots.resize(chart);
  }

  // The path names what is open: a view, an issue, a deliberation or a duty run.
  function route() {
    showView(viewInPath());
    const id = issueInPath();
    if (id) openIssue(id, false);
    else $("issue-modal").hidden = true;
    for (const v of views) v.route();
  }

  function issueInPath() {
    const m = location.pathname.match(/^\/dashboard\/issues\/([^/]+)$/);
    return m ? decodeURIComponent(m[1]) : null;
  }

  // A view of its own path (/dashboard/<name>) whose rows open one record in a modal
  // (/dashboard/<name>/<id>): its life (refresh while shown, the modal on the path, closing back to
  // the list) in one place. ``load(id)`` fills the modal; the handle says whether the view is shown
  // and opens a record.
  function recordView({ name, viewId, modalId, detailId, everyMs, refresh, load }) {
    let shown = "issues";
    let timer = null;
    const modal = () => $(modalId);
    const list = `/dashboard/${name}`;
    const idInPath = () => {
      const prefix = `${list}/`;
      const rest = location.pathname.startsWith(prefix) ? location.pathname.slice(prefix.length) : "";
      return rest && !rest.includes("/") ? decodeURIComponent(rest) : null;
    };
    async function open(id, push = true) {
      const path = `${list}/${encodeURIComponent(id)}`;
      if (push && location.pathname !== path) history.pushState({ [name]: id }, "", path);
      $(detailId).replaceChildren(el("p", {}, "加载中…"));
      modal().hidden = false;
      try {
        await load(id);
      } catch (e) {
        if (!(e instanceof AuthError)) $(detailId).replaceChildren(el("p", { class: "error" }, `无法加载：${e.message}`));
      }
    }
    function close(push = true) {
      modal().hidden = true;
      if (push && location.pathname !== list) history.pushState({}, "", list);
    }
    views.push({
      name,
      start() {
        clearInterval(timer);
        timer = setInterval(() => document.hidden || refresh(), everyMs);
      },
      stop() {
        clearInterval(timer);
        timer = null;
        modal().hidden = true;
      },
      refresh,
      show(view) {
        const was = shown;
        shown = view;
        $(viewId).hidden = view !== name;
        if (view === name && was !== view) refresh();
      },
      route() {
        const id = idInPath();
        if (id) open(id, false);
        else modal().hidden = true;
      },
      open,
    });
    const closeButton = modal().querySelector("button.close");
    closeButton.addEventListener("click", () => close());
    modal().addEventListener("click", (e) => e.target === modal() && close());
    document.addEventListener("keydown", (e) => e.key === "Escape" && !modal().hidden && close());
    return { shown: () => shown === name, open, close };
  }

  // ---- start -----------------------------------------------------------------------------------

  async function start() {
    $("login-view").hidden = true;
    $("app-view").hidden = false;
    try {
      const me = await api("/auth/me");
      $("who-name").textContent = `${me.display_name || me.username}（${me.role_label}）`;
      $("who").hidden = false;
      await loadTownships();
    } catch (e) {
      showError(e);
      if (e instanceof AuthError) return;
    }
    await refreshAll();
    for (const timer of state.timers) clearInterval(timer);
    state.timers = [
      setInterval(() => document.hidden || refreshAlerts(), ALERTS_EVERY_MS),
      setInterval(() => document.hidden || refreshStats(), STATS_EVERY_MS),
    ];
    for (const v of views) v.start();
    route();
  }

  function init() {
    $("login-form").addEventListener("submit", signIn);
    $("logout").addEventListener("click", () => signOut(""));
    for (const id of ["filter-township", "filter-category", "filter-period", "filter-since", "filter-until"]) {
      $(id).addEventListener("change", onFilterChange);
    }
    for (const tab of document.querySelectorAll(".tab")) {
      tab.addEventListener("click", () => {
        state.rankChosen = true;
        showRankKind(tab.dataset.kind);
        renderRankings();
      });
    }
    $("issue-close").addEventListener("click", () => closeIssue());
    $("issue-modal").addEventListener("click", (e) => e.target === $("issue-modal") && closeIssue());
    document.addEventListener("keydown", (e) => e.key === "Escape" && !$("issue-modal").hidden && closeIssue());
    for (const a of document.querySelectorAll("#views a")) {
      a.addEventListener("click", (e) => {
        e.preventDefault();
        if (location.pathname !== a.getAttribute("href")) history.pushState({}, "", a.getAttribute("href"));
        route();
      });
    }
    window.addEventListener("popstate", () => token() && route());
    if (token()) start();
    else signOut("");
  }

  // What the other views of the page share with this one (loaded after it, started by it).
  window.Linkage = {
    el,
    fillBody,
    timeline,
    pct,
    when,
    remaining,
    api,
    showError,
    AuthError,
    LEVEL_LABEL,
    township: () => $("filter-township").value,
    showView,
    openIssue: (id) => openIssue(id),
    recordView,
  };

  // After deliberations.js and duties.js have registered (scripts with defer run in order, then DOMContentLoaded).
  document.addEventListener("DOMContentLoaded", init);
})();
