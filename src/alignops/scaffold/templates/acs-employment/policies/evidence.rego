package team.evidence

import rego.v1

# Teams write their own rules on the evidence the gate computed:
# data.alignops.evidence[<model>].<check> holds the numbers.
# The policy gates on the point estimate; warn when the 95% interval still reaches over it.
warn contains msg if {
	input.kind == "Model"
	some attribute, result in data.alignops.evidence[input.metadata.name].fairness.attributes
	upper := result.interval.dpDifference[1]
	upper > 0.05
	result.dpDifference <= 0.05
	msg := sprintf("demographic parity difference by %s passes (%.3f) but its 95%% interval reaches %.3f", [attribute, result.dpDifference, upper])
}
