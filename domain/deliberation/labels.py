"""Labels people read for a deliberation's words (zh-CN): the API hands them out beside the codes,
so the dashboard and any other client show the same words."""

from __future__ import annotations

STATUS = {
    "open": "协商中",
    "submitted": "待决策",
    "implementing": "落实中",
    "awaiting_evaluation": "待评价",
    "closed": "已办结",
    "withdrawn": "已撤回",
}

KIND = {
    "village_council": "村民议事会",
    "representatives_meeting": "村民代表会议",
    "joint_meeting": "联席会议",
    "hearing": "听证会",
    "poll": "协商式民意调查",
    "consultation": "民主恳谈",
    "four_deliberations": "四议两公开",
}

OUTCOME = {"consensus": "达成共识", "no_consensus": "未达成共识", "hard": "难以协商一致"}

STEP = {
    "party_proposal": "党组织提议",
    "committees": "两委商议",
    "party_members": "党员大会审议",
    "resolution": "村民（代表）会议决议",
    "resolution_published": "决议公开",
    "result_published": "实施结果公开",
}

VIA = {"consensus": "协商共识", "adopt": "领导采纳"}

EVENT = {
    "opened": "发起议事",
    "round_opened": "开始一轮协商",
    "opinion": "发表意见",
    "ballot": "投票",
    "round_due": "本轮到期",
    "step_recorded": "程序步骤",
    "round_closed": "本轮结束",
    "submitted": "提交领导决策",
    "decided": "领导决策",
    "referred_up": "提交上级",
    "decision_overdue": "决策超期",
    "implementing": "开始落实",
    "progress": "落实进展",
    "warning": "落实预警",
    "overdue": "落实超期",
    "overdue_reminder": "督办提醒",
    "completed": "落实完成",
    "evaluated": "监督评价",
    "closed": "办结",
    "withdrawn": "撤回",
}
