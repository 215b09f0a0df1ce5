package finops.policy.serverless_test

import rego.v1

import data.finops.policy.serverless

large := {"kind": "ServerlessFunction", "metadata": {"name": "big"}, "spec": {"memory": 1024}}

small := {"kind": "ServerlessFunction", "metadata": {"name": "small"}, "spec": {"memory": 256}}

test_large_function_denied if {
	msg := "Serverless function memory limit exceeds 512MB for cost optimization."
	msg in serverless.deny with input as large
}

test_small_function_allowed if {
	count(serverless.deny) == 0 with input as small
}
