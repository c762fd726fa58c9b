"""Duties on a calendar (DESIGN.md "Duties on a calendar"): the monthly 村民议事会, the quarterly
村民代表会议 and 联席会议, 村务公开 and the 片长's daily patrol, each a Temporal Schedule per unit
whose runs are short ``DutyWorkflow``s. Pure: the workflow shell and the API import it."""
