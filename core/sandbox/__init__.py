"""The WeChat sandbox (spine placeholder: the WeChat layer fills it)."""


def setup_sandbox(app, settings) -> None:
    return None
