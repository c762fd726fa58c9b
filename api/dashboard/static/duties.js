// 值班职责 on the staff dashboard: each duty's on-time share per unit (townships, or a township's
// villages once it is chosen), each village's 村务公开 for the current month and quarter, patrol
// coverage per village, the meetings coming up; and one duty run's page (what it is, due, agenda or
// report, events), where the duties' notices link. Reads /api/v1/duties with the reader's token
// through dashboard.js's helpers (window.Linkage); text only, never innerHTML with data.
"use strict";

(() => {
  const L = window.Linkage;
  const { el, api, when, fillBody, showError, pct } = L;
  const $ = (id) => document.getElementById(id);
  const REFRESH_MS = 30000;
  const TOKEN_KEY = "linkage.token";
  const DISCLOSURE_CLASS = { published: "", late: "late", overdue: "late", pending: "soon", untracked: "muted" };

  const state = { busy: false };

  function dutyLink(id, text) {
    return el(
      "a",
      {
        class: "link duty-link",
        href: `/dashboard/duties/${encodeURIComponent(id)}`,
        onclick: (e) => {
          e.preventDefault();
          open(id);
        },
      },
      text,
    );
  }

  // ---- the view ----------------------------------------------------------------------------------

  function share(s) {
    if (!s) return el("td", { class: "num" }, "—");
    const cls = s.share !== null && s.share < 0.8 ? "late" : "";
    const title = `按时 ${s.on_time} · 逾期或未完成 ${s.late} · 督促中 ${s.open} · 共 ${s.runs} 次`;
    return el("td", { class: `num ${cls}`, title }, pct(s.share), el("span", { class: "hint" }, ` (${s.on_time}/${s.runs})`));
  }

  function renderKpis(o) {
    const total = Object.fromEntries(o.total.map((s) => [s.kind, s]));
    $("du-kpis").replaceChildren(
      ...o.kinds.map((k) =>
        el(
          "div",
          { class: "kpi", dataset: { kind: k.kind } },
          el("span", { class: "kpi-label" }, `${k.label}按时率`),
          el("span", { class: "kpi-value" }, pct(total[k.kind] ? total[k.kind].share : null)),
        ),
      ),
    );
  }

  function renderUnits(o) {
    const table = $("du-units");
    table.tHead.replaceChildren(el("tr", {}, el("th", {}, "单位"), o.kinds.map((k) => el("th", {}, k.label))));
    $("du-units-title").textContent = `各单位按时率 · ${o.unit.name}`;
    const rows = o.rows.map((r) => {
      const byKind = Object.fromEntries(r.duties.map((s) => [s.kind, s]));
      const township = r.unit_kind === "township";
      return el(
        "tr",
        {
          dataset: { unit: r.unit.code },
          class: township ? "clickable" : "",
          title: township ? "查看各村" : null,
          onclick: township ? () => drill(r.unit.code) : null,
        },
        el("td", {}, r.unit.code === o.unit.code ? `${r.unit.name}（本级）` : r.unit.name),
        o.kinds.map((k) => share(byKind[k.kind])),
      );
    });
    fillBody(table, rows, o.kinds.length + 1, "暂无到期的职责");
  }

  // A township's row opens its villages: the page's township filter, so every view follows.
  function drill(code) {
    const select = $("filter-township");
    if (![...select.options].some((o) => o.value === code)) return;
    select.value = code;
    select.dispatchEvent(new Event("change"));
  }

  function disclosureCell(d) {
    const reminded = d.status === "overdue" && d.reminders ? `，已督促 ${d.reminders} 次` : "";
    const text = `${d.period} ${d.status_label}${reminded}`;
    return el(
      "td",
      { class: DISCLOSURE_CLASS[d.status] || "", title: `截止 ${when(d.due)}${d.published_at ? ` · 公开于 ${when(d.published_at)}` : ""}`, dataset: { status: d.status } },
      d.duty_id ? dutyLink(d.duty_id, text) : text,
    );
  }

  function renderDisclosures(o) {
    const overdue = o.disclosures.filter((d) => d.monthly.status === "overdue" || d.quarterly.status === "overdue");
    $("du-disclosures-count").textContent = overdue.length;
    // The villages behind first: those the township must chase.
    const sorted = [...overdue, ...o.disclosures.filter((d) => !overdue.includes(d))];
    const rows = sorted.map((d) =>
      el(
        "tr",
        { dataset: { village: d.village.code } },
        el("td", {}, d.village.name),
        el("td", {}, d.township ? d.township.name : "—"),
        disclosureCell(d.monthly),
        disclosureCell(d.quarterly),
      ),
    );
    fillBody($("du-disclosures"), rows, 4, "辖区内没有村（社区）");
  }

  function renderPatrols(o) {
    const rows = o.patrols.map((p) =>
      el(
        "tr",
        { dataset: { village: p.village.code } },
        el("td", {}, p.village.name),
        el("td", { class: "num" }, p.grids),
        el("td", { class: `num ${p.yesterday < p.grids ? "late" : ""}` }, `${p.yesterday}/${p.grids}`),
        el("td", { class: "num" }, `${p.week_patrolled}/${p.week_due}（${pct(p.week_due ? p.week_patrolled / p.week_due : null)}）`),
      ),
    );
    fillBody($("du-patrols"), rows, 4, "辖区内未划分片区");
  }

  function renderUpcoming(o) {
    const rows = o.upcoming.map((m) =>
      el(
        "tr",
        { dataset: { kind: m.kind } },
        el("td", {}, m.label),
        el("td", {}, when(m.due), m.moved_from ? el("span", { class: "hint" }, `（节假日顺延，原定 ${when(m.moved_from)}）`) : null),
        el(
          "td",
          {},
          m.units > m.names.length ? `${m.names.join("、")} 等 ${m.units} 个单位` : m.names.join("、"),
          m.paused ? el("span", { class: "hint" }, `（另有 ${m.paused} 个单位日程已暂停）`) : null,
        ),
        el("td", {}, m.duty_ids.map((id) => dutyLink(id, "查看"))),
      ),
    );
    fillBody($("du-upcoming"), rows, 4, "近期没有会议");
  }

  async function refresh() {
    if (!view.shown() || state.busy) return;
    state.busy = true;
    try {
      const o = await api("/duties/overview", { unit: L.township() });
      renderKpis(o);
      renderUnits(o);
      renderDisclosures(o);
      renderPatrols(o);
      renderUpcoming(o);
      $("error-banner").hidden = true;
    } catch (e) {
      showError(e);
    } finally {
      state.busy = false;
    }
  }

  // ---- one duty run ------------------------------------------------------------------------------

  // The report needs the reader's token: fetched here, opened (HTML) or saved (PDF) from memory.
  async function openDocument(event, url, name) {
    event.preventDefault();
    const r = await fetch(url, { headers: { Authorization: `Bearer ${sessionStorage.getItem(TOKEN_KEY)}` } });
    if (!r.ok) {
      showError(new Error(`报告 ${r.status}`));
      return;
    }
    const href = URL.createObjectURL(await r.blob());
    if (name) {
      const a = el("a", { href, download: name });
      document.body.append(a);
      a.click();
      a.remove();
    } else {
      window.open(href, "_blank", "noopener");
    }
    setTimeout(() => URL.revokeObjectURL(href), 60000);
  }

  function documentBlock(d) {
    if (!d.document) return null;
    const doc = d.document;
    return el(
      "p",
      { id: "duty-document" },
      `报告：${doc.title} `,
      el("a", { class: "link", id: "duty-document-html", href: doc.html, onclick: (e) => openDocument(e, doc.html, null) }, "查看（HTML）"),
      " · ",
      el("a", { class: "link", id: "duty-document-pdf", href: doc.pdf, onclick: (e) => openDocument(e, doc.pdf, `${doc.id}.pdf`) }, "下载 PDF"),
    );
  }

  function agendaRef(item) {
    if (item.source === "issue" || item.source === "hard_issue") {
      return el("a", { class: "link", href: `/dashboard/issues/${encodeURIComponent(item.ref)}` }, item.title);
    }
    if (item.source === "deliberation") {
      return el("a", { class: "link", href: `/dashboard/deliberations/${encodeURIComponent(item.ref)}` }, item.title);
    }
    return item.title;
  }

  function agendaTable(d) {
    if (!d.agenda.length) return d.kind === "village_council" && d.status === "done" ? el("p", { class: "hint" }, "本月无议题") : null;
    return el(
      "table",
      { id: "duty-agenda" },
      el("thead", {}, el("tr", {}, el("th", {}, "来源"), el("th", {}, "议题"))),
      el("tbody", {}, d.agenda.map((item) => el("tr", {}, el("td", {}, item.source_label), el("td", {}, agendaRef(item))))),
    );
  }

  function eventDetail(e) {
    const x = e.data || {};
    const parts = [];
    if (x.period) parts.push(`期间 ${x.period}`);
    if (x.due) parts.push(`期限 ${when(x.due)}`);
    if (x.moved_from) parts.push(`节假日顺延，原定 ${when(x.moved_from)}`);
    if (x.count) parts.push(`第 ${x.count} 次`);
    if (x.items) parts.push(`议题 ${x.items.length} 项`);
    if (x.hard_matters !== undefined) parts.push(`疑难事项 ${x.hard_matters} 件，逾期决定 ${x.overdue_decisions} 件`);
    if (x.outcome) parts.push({ held: "已召开", on_time: "按期完成", late: "逾期完成", missed: "未巡查", skipped: "已跳过" }[x.outcome] || x.outcome);
    return parts.join("；");
  }

  function render(d) {
    const late = d.on_time === false || d.status === "overdue";
    const facts = [
      ["期间", d.period || "—"],
      ["期限", `${when(d.due_at)}${d.moved_from ? `（节假日顺延，原定 ${when(d.moved_from)}）` : ""}`],
      ["完成", d.fulfilled_at ? when(d.fulfilled_at) : d.closed_at ? when(d.closed_at) : "—"],
      ["督促", `${d.reminders} 次`],
      ["计划", d.schedule_id || "手动启动"],
    ];
    const council = d.deliberation_id
      ? el("p", {}, el("a", { class: "link deliberation-link", href: `/dashboard/deliberations/${encodeURIComponent(d.deliberation_id)}` }, "查看议事会的协商议事"))
      : null;
    $("duty-detail").replaceChildren(
      el(
        "div",
        { class: "issue-head" },
        el("h2", { id: "duty-title" }, `${d.kind_label} · ${d.unit.name}${d.period ? ` · ${d.period}` : ""}`),
        el(
          "div",
          { class: "tags" },
          el("span", {}, d.status_label),
          d.outcome_label ? el("span", { class: late ? "red" : "" }, d.outcome_label) : null,
          d.status === "overdue" ? el("span", { class: "red" }, "逾期") : null,
        ),
        el("p", { id: "duty-description" }, d.description),
      ),
      el("table", { id: "duty-facts" }, el("tbody", {}, facts.map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", {}, v))))),
      council,
      documentBlock(d),
      d.agenda.length || d.kind === "village_council" ? el("h3", { class: "section-title" }, `议程（${d.agenda.length}）`) : null,
      agendaTable(d),
      el("h3", { class: "section-title" }, `全过程记录（${d.events.length}）`),
      L.timeline("duty-events", d.events, eventDetail),
    );
  }

  // ---- the view's life, driven by dashboard.js ----------------------------------------------------

  const view = L.recordView({
    name: "duties",
    viewId: "duties-view",
    modalId: "duty-modal",
    detailId: "duty-detail",
    everyMs: REFRESH_MS,
    refresh,
    load: async (id) => render(await api(`/duties/runs/${encodeURIComponent(id)}`)),
  });
  const open = (id) => view.open(id);
})();
