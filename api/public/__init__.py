"""What anyone may do without an account: report an issue, propose a topic for the village's
next 议事会, vote in a poll with the household code. Throttled per client address and per phone
(``throttle``)."""
