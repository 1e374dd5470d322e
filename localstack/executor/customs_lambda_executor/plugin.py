"""The plux plugin LocalStack finds under `localstack.lambda.runtime_executor`;
`LAMBDA_RUNTIME_EXECUTOR=host` selects it."""

from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin


class HostRuntimeExecutorPlugin(RuntimeExecutorPlugin):
    name = "host"

    def load(self, *args, **kwargs):
        from customs_lambda_executor.executor import HostRuntimeExecutor

        return HostRuntimeExecutor
