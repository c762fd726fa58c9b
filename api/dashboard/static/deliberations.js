// 协商议事 on the staff dashboard: what is being deliberated, what waits for the leadership's
// decision, what is being implemented (progress, due, overdue) and what waits for evaluation; and
// one deliberation's timeline. Reads /api/v1/deliberations with the reader's token, through the
// helpers dashboard.js shares (window.Linkage); text only, never innerHTML with data.
"use strict";

(() => {
  const L = window.Linkage;
  const { el, api, when, remaining, fillBody, showError, pct, LEVEL_LABEL } = L;
  const $ = (id) => document.getElementById(id);
  const REFRESH_MS = 5000;
  const PAGE = 100; // rows a list shows; the badge counts them all
  const SATISFACTION_LABEL = { satisfied: "满意", basically_satisfied: "基本满意", unsatisfied: "不满意" };
  const VERDICT_LABEL = { adopt: "采纳", refer_up: "提交上级" };
  // Reasons the workflow records as codes; any other reason is a person's own words.
  const REASON_LABEL = { opened: "", referred_up: "上级接手协商", no_consensus: "未达成共识，继续协商", hard: "难以协商一致", max_rounds: "协商轮次已满" };

  const state = { busy: false };

  // ---- the four lists ----------------------------------------------------------------------------

  function topic(d) {
    return el("td", {}, el("a", { href: `/dashboard/deliberations/${d.id}`, onclick: (e) => e.preventDefault() }, d.topic));
  }

  function unitName(d) {
    return d.unit_name || d.unit;
  }

  function deadlineCell(iso, overdue) {
    const left = remaining(iso, overdue);
    return el("td", { class: left.cls, title: when(iso) }, left.text);
  }

  function progressBar(percent) {
    const value = Math.max(0, Math.min(100, percent || 0));
    return [el("span", { class: "progress" }, el("span", { style: `width: ${value}%` })), `${value}%`];
  }

  const LISTS = [
    {
      status: "open",
      columns: 5,
      empty: "暂无协商中的议题",
      cells: (d) => [topic(d), el("td", {}, d.kind_label), el("td", {}, unitName(d)), el("td", { class: "num" }, d.round), deadlineCell(d.deadline, d.overdue)],
    },
    {
      status: "submitted",
      columns: 5,
      empty: "暂无待决策事项",
      cells: (d) => [
        topic(d),
        el("td", {}, d.kind_label),
        el("td", {}, unitName(d)),
        el("td", {}, LEVEL_LABEL[d.level] || d.level),
        deadlineCell(d.deadline, d.overdue),
      ],
    },
    {
      status: "implementing",
      columns: 6,
      empty: "暂无落实中的决定",
      cells: (d) => {
        const decision = d.decision || {};
        return [
          topic(d),
          el("td", {}, decision.text || "—"),
          el("td", {}, decision.responsible_name || decision.responsible_unit || "—"),
          el("td", { class: "progress-cell" }, progressBar(decision.progress)),
          el("td", { class: d.overdue ? "late" : "" }, when(decision.due)),
          deadlineCell(decision.due, d.overdue),
        ];
      },
    },
    {
      status: "awaiting_evaluation",
      columns: 5,
      empty: "暂无待评价的决定",
      cells: (d) => {
        const decision = d.decision || {};
        return [
          topic(d),
          el("td", {}, decision.responsible_name || decision.responsible_unit || "—"),
          el("td", {}, when(decision.completed_at)),
          el("td", { class: decision.on_time === false ? "late" : "" }, decision.on_time === null || decision.on_time === undefined ? "—" : decision.on_time ? "是" : "否"),
          deadlineCell(d.deadline, false),
        ];
      },
    },
  ];

  function renderList(list, page) {
    $(`dl-${list.status}-count`).textContent = page.count;
    const rows = page.data.map((d) =>
      el(
        "tr",
        { class: `clickable${d.overdue ? " late-row" : ""}`, dataset: { deliberationId: d.id }, title: "查看议事时间线", onclick: () => open(d.id) },
        list.cells(d),
      ),
    );
    const more = page.count > page.data.length ? [el("tr", { class: "empty" }, el("td", { colspan: list.columns }, `另有 ${page.count - page.data.length} 件未显示`))] : [];
    fillBody($(`dl-${list.status}`), [...rows, ...more], list.columns, list.empty);
  }

  function renderStats(stats) {
    $("dl-kpi-total").textContent = stats.total;
    for (const status of ["open", "submitted", "implementing", "awaiting_evaluation", "closed"]) {
      $(`dl-kpi-${status}`).textContent = stats.by_status[status] || 0;
    }
    $("dl-kpi-overdue").textContent = stats.overdue;
    $("dl-kpi-consensus").textContent = pct(stats.consensus_share);
  }

  async function refresh() {
    if (!view.shown() || state.busy) return;
    state.busy = true;
    try {
      const unit = L.township();
      const [stats, ...pages] = await Promise.all([
        api("/deliberations/stats", { unit }),
        ...LISTS.map((list) => api("/deliberations", { unit, status: list.status, limit: PAGE })),
      ]);
      renderStats(stats);
      LISTS.forEach((list, i) => renderList(list, pages[i]));
      $("error-banner").hidden = true;
    } catch (e) {
      showError(e);
    } finally {
      state.busy = false;
    }
  }

  // ---- one deliberation's timeline ---------------------------------------------------------------

  function attendance(a) {
    if (!a) return "—";
    const households = a.households_expected ? `；户代表 ${a.households_present}/${a.households_expected}` : "";
    return `${a.present}/${a.expected}${households}`;
  }

  function votes(v) {
    return v ? `赞成 ${v.for} · 反对 ${v.against} · 弃权 ${v.abstain}` : "—";
  }

  function eventDetail(e) {
    const d = e.data || {};
    const parts = [];
    if (d.round) parts.push(`第 ${d.round} 轮`);
    if (d.verdict) parts.push(VERDICT_LABEL[d.verdict] || d.verdict);
    if (d.text) parts.push(e.type === "opinion" ? `意见：${d.text}` : `决定：${d.text}`);
    if (d.percent !== undefined) parts.push(`进度 ${d.percent}%`);
    for (const key of ["note", "summary", "comment"]) if (d[key]) parts.push(d[key]);
    if (d.reason) parts.push(d.reason in REASON_LABEL ? REASON_LABEL[d.reason] : d.reason);
    if (d.satisfaction) parts.push(SATISFACTION_LABEL[d.satisfaction] || d.satisfaction);
    if (d.deadline) parts.push(`期限 ${when(d.deadline)}`);
    if (d.due) parts.push(`完成期限 ${when(d.due)}`);
    return parts.filter(Boolean).join("；");
  }

  function roundsTable(rounds) {
    return el(
      "table",
      { id: "deliberation-rounds" },
      el("thead", {}, el("tr", {}, ["轮次", "单位", "开始", "截止", "结果", "到会（实到/应到）", "表决", "纪要"].map((h) => el("th", {}, h)))),
      el(
        "tbody",
        {},
        rounds.flatMap((r) => [
          el(
            "tr",
            { dataset: { round: r.number } },
            el("td", { class: "num" }, r.number),
            el("td", {}, r.unit_name || r.unit),
            el("td", {}, when(r.opened_at)),
            el("td", {}, when(r.deadline)),
            el("td", {}, r.outcome ? r.outcome_label : "协商中"),
            el("td", {}, attendance(r.attendance)),
            el("td", {}, votes(r.votes)),
            el("td", {}, r.summary || ""),
          ),
          ...(r.steps || []).map((s) =>
            el(
              "tr",
              { class: "step" },
              el("td", {}, ""),
              el("td", { colspan: 3 }, `四议两公开 · ${s.label}`),
              el("td", {}, s.outcome ? { consensus: "通过", no_consensus: "未通过", hard: "难以协商一致" }[s.outcome] || s.outcome : ""),
              el("td", {}, attendance(s.attendance)),
              el("td", {}, votes(s.votes)),
              el("td", {}, s.summary || ""),
            ),
          ),
        ]),
      ),
    );
  }

  function decisionBlock(d) {
    const decision = d.decision;
    if (!decision) return el("p", { class: "hint", id: "deliberation-decision" }, "尚未形成决定");
    const late = d.overdue && d.status === "implementing";
    return el(
      "div",
      { id: "deliberation-decision" },
      el("p", {}, el("strong", {}, decision.text)),
      el(
        "p",
        {},
        `${decision.via_label || ""} · ${LEVEL_LABEL[decision.level] || decision.level || ""}决定 · ${when(decision.decided_at)} · 责任单位 ${decision.responsible_name || decision.responsible_unit}`,
      ),
      el(
        "p",
        { class: late ? "late" : "" },
        "落实进度 ",
        progressBar(decision.progress),
        ` · 完成期限 ${when(decision.due)}`,
        late ? " · 已超期" : "",
        decision.progress_note ? ` · ${decision.progress_note}` : "",
      ),
      decision.completed_at
        ? el("p", {}, `完成于 ${when(decision.completed_at)} · ${decision.on_time ? "按期" : "逾期"}`)
        : null,
    );
  }

  function evaluationsLine(d) {
    const entries = Object.entries(d.evaluations || {}).filter(([, n]) => n);
    if (!entries.length) return null;
    return el("p", { id: "deliberation-evaluations" }, `监督评价：${entries.map(([k, n]) => `${SATISFACTION_LABEL[k] || k} ${n}`).join("、")}`);
  }

  function render(d) {
    const tags = el(
      "div",
      { class: "tags" },
      el("span", {}, d.status_label),
      el("span", {}, d.kind_label),
      el("span", {}, LEVEL_LABEL[d.level] || d.level),
      d.overdue ? el("span", { class: "red" }, "超期") : null,
    );
    const issue = d.issue_id
      ? el(
          "a",
          {
            class: "link issue-link",
            href: `/dashboard/issues/${d.issue_id}`,
            onclick: (e) => {
              e.preventDefault();
              close(false);
              L.openIssue(d.issue_id);
            },
          },
          "查看关联事项",
        )
      : null;
    const head = el(
      "div",
      { class: "issue-head" },
      el("h2", { id: "deliberation-title" }, d.topic),
      tags,
      el("p", {}, `发起 ${d.opened_unit.name || d.opened_unit.code} · ${when(d.opened_at)} · 当前 ${unitName(d)} · 期限 ${when(d.deadline)}`, issue),
      d.description ? el("p", {}, d.description) : null,
    );
    const tally = d.tally
      ? el("p", { id: "deliberation-tally" }, `投票结果（${d.ballots} 户）：${Object.entries(d.tally).map(([k, n]) => `${k} ${n}`).join("、")}`)
      : d.kind === "poll"
        ? el("p", { class: "hint" }, `已投票 ${d.ballots} 户（结果在调查结束后公布）`)
        : null;
    const events = L.timeline("deliberation-events", d.events, eventDetail);
    const parts = [
      head,
      el("h3", { class: "section-title" }, `协商轮次（${d.rounds.length}）`),
      roundsTable(d.rounds),
      tally,
      el("h3", { class: "section-title" }, "决定与落实"),
      decisionBlock(d),
      evaluationsLine(d),
      el("h3", { class: "section-title" }, `全过程记录（${d.events.length}）`),
      events,
    ];
    $("deliberation-detail").replaceChildren(...parts.filter(Boolean));
  }

  // ---- the view's life, driven by dashboard.js ----------------------------------------------------

  const view = L.recordView({
    name: "deliberations",
    viewId: "deliberations-view",
    modalId: "deliberation-modal",
    detailId: "deliberation-detail",
    everyMs: REFRESH_MS,
    refresh,
    load: async (id) => render(await api(`/deliberations/${encodeURIComponent(id)}`)),
  });
  const open = (id) => view.open(id);
  const close = (push) => view.close(push);
})();
