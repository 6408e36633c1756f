"""The twin's AWS services: CloudFront, Lambda@Edge, WAF, S3 (moto) and real-time logs."""
