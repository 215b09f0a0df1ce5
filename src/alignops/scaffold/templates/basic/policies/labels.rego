package alignops.labels

import rego.v1

# Costs are allocated by the team label; a resource without one lands in "unallocated".
warn contains {
	"msg": sprintf("%s %s has no team label, so its cost cannot be allocated to a team", [input.kind, input.metadata.name]),
	"field": "metadata.labels",
} if {
	input.kind in {"Model", "ModelDeployment", "ServerlessFunction"}
	not input.metadata.labels.team
}
