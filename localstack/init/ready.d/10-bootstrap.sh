#!/usr/bin/env bash
# Runs inside LocalStack when it is ready: the bucket SAM packages code into.
set -euo pipefail
awslocal s3 mb s3://analystack-sam-artifacts 2>/dev/null || true
echo "analystack: LocalStack ready (artifacts bucket s3://analystack-sam-artifacts)"
