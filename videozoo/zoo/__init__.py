"""The MMAction2 zoo tables as registry entries, one file per family."""
