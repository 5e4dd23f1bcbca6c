-- The KeeperHub database next to Dagster's: wfprof reads workflows, executions and logs from it.
CREATE DATABASE keeperhub OWNER wfprof;
