"""Chinese labels shown to people (zh-CN); codes and logs stay English."""

from __future__ import annotations

LEVEL = {"grid": "网格", "village": "村级", "township": "乡镇级", "county": "县级"}
STATUS = {
    "pending_accept": "待签收",
    "in_progress": "办理中",
    "awaiting_feedback": "待评价",
    "closed": "已办结",
    "withdrawn": "已撤回",
    "invalid": "无效",
}
OUTCOME = {
    "resolved": "办结",
    "escalated_on_request": "主动上报",
    "escalated_on_timeout": "超时上报",
    "transferred": "转派",
    "withdrawn": "撤回",
    "invalid": "标记无效",
}
URGENCY = {"normal": "一般", "urgent": "紧急"}
SATISFACTION = {"satisfied": "满意", "basically_satisfied": "基本满意", "unsatisfied": "不满意"}
ROLE = {
    "clerk": "经办人",
    "leader": "负责人",
    "supervisor": "督查",
    "department": "部门",
    "admin": "管理员",
    "citizen": "群众",
    "system": "系统",
}
EVENT = {
    "registered": "登记受理",
    "level_entered": "流转到达",
    "accepted": "签收",
    "accept_overdue": "签收超时",
    "progress": "办理进展",
    "resolved": "办结",
    "escalated": "上报",
    "whistled": "吹哨",
    "reported": "部门报到",
    "report_overdue": "报到超时",
    "extension_requested": "申请延期",
    "extension_decided": "延期审批",
    "transferred": "转派",
    "supervised": "督办",
    "warning": "预警",
    "overdue": "超期",
    "overdue_reminder": "超期督办",
    "feedback": "回访评价",
    "reopened": "重办",
    "feedback_expired": "评价期满",
    "withdrawn": "撤回",
    "closed": "结案",
    "deliberation": "协商议事",
    "invalidated": "标记为无效",
    "invalid_reviewed": "无效标记复核",
}
INVALID_KIND = {
    "spam": "恶意或无意义提交",
    "duplicate": "重复提交",
    "not_governance": "不属于基层治理事项",
}
