package finops.policy.serverless

deny[msg] {
input.kind == "ServerlessFunction"
input.spec.memory > 512
msg := "Serverless function memory limit exceeds 512MB for cost optimization."
}
