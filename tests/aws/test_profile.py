"""CloudProfile validation, service ids and presets."""

from __future__ import annotations

import pytest

from labkit.aws import PRESETS, AwsError, CloudProfile, check_url, preset_profile
from labkit.aws.services import service_id, snake_id
from labkit.aws.write import config_blocks

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("typed", "sid"), [
    ("ec2", "ec2"), ("elb", "elastic_load_balancing"), ("elastic-load-balancing", "elastic_load_balancing"),
    ("elbv2", "elastic_load_balancing_v2"), ("autoscaling", "auto_scaling"), ("logs", "cloudwatch_logs"),
    ("S3", "s3"), ("compute", "ec2"), ("euare", "iam"), ("objectstorage", "s3"), ("tokens", "sts"),
])
def test_service_names_become_botocores_snake_case_ids(typed, sid):
    assert service_id(typed) == sid


def test_snake_id_agrees_with_botocore_for_every_client():
    from botocore.session import get_session

    session = get_session()
    for client in ("ec2", "elb", "autoscaling", "s3", "iam", "sts", "cloudwatch", "logs"):
        model = session.get_service_model(client)
        assert snake_id(client) == model.service_id.hyphenize().replace("-", "_")


@pytest.mark.parametrize(("typed", "suggested"), [("ec3", "ec2"), ("elastic_loadbalancing", "elastic_load_balancing"),
                                                 ("cloudwach", "cloudwatch")])
def test_unknown_services_suggest_the_right_id(typed, suggested):
    with pytest.raises(AwsError) as err:
        service_id(typed)
    assert typed in str(err.value) and suggested in err.value.hint


@pytest.mark.parametrize(("url", "words"), [
    ("127.0.0.1:5056", "no scheme"), ("ftp://h/", "scheme"), ("http://h:99999/", "bad port"),
    ("http:///x", "no host"), ("http://h/ x", "spaces"), ("", "empty"), ("http://h/?a=b", "query"),
])
def test_bad_endpoint_urls_say_what_is_wrong(url, words):
    with pytest.raises(AwsError) as err:
        check_url(url)
    assert words in str(err.value)


def test_no_scheme_hint_gives_the_fix():
    with pytest.raises(AwsError) as err:
        check_url("127.0.0.1:5056")
    assert "http://127.0.0.1:5056" in err.value.hint


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"name": "bad name"}, "profile name"), ({"name": "x]\n[default"}, "profile name"),
    ({"region": ""}, "no region"), ({"region": "Partner 01"}, "not a region name"),
    ({"endpoint_url": None}, "no endpoint"), ({"s3_addressing_style": "dns"}, "addressing"),
    ({"access_key_id": "AKID\naws_x = 1"}, "access key"), ({"ca_bundle": "/nope/ca.pem"}, "CA bundle"),
    ({"endpoints": {"ec2": "http://a/", "compute": "http://b/"}}, "twice"),
])
def test_validation_rejects_what_would_break_the_file(kwargs, words):
    base = {"name": "p", "region": "partner01", "endpoint_url": "http://h:1"}
    with pytest.raises(AwsError) as err:
        CloudProfile(**{**base, **kwargs}).validated()
    assert words in str(err.value)


@pytest.mark.parametrize("content", [bytes(range(256)) * 4, "id,subject\n1,caf\xe9\n".encode("latin-1"), b""])
def test_a_ca_bundle_without_pem_certificates_is_refused(tmp_path, content):
    # botocore: ca_bundle is "The CA bundle to use when verifying SSL certificates" (a PEM file urllib3's ssl loads);
    # one it cannot load fails every later call, so it is refused when the profile is written
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(content)
    with pytest.raises(AwsError, match="CA bundle .* cannot be used .*no PEM certificate"):
        CloudProfile("p", "partner01", endpoint_url="http://h:1", ca_bundle=str(bundle)).validated()


def test_a_pem_ca_bundle_is_kept():
    import certifi

    p = CloudProfile("p", "partner01", endpoint_url="http://h:1", ca_bundle=certifi.where()).validated()
    assert p.ca_bundle == certifi.where()


def test_valid_profile_normalises_service_names():
    p = CloudProfile("p", "partner01", endpoints={"elb": "http://h/lb", "EC2": "http://h/c"}).validated()
    assert list(p.endpoints) == ["ec2", "elastic_load_balancing"]


def test_a_key_without_a_secret_reference_is_refused():
    with pytest.raises(AwsError) as err:
        CloudProfile("p", "r", endpoint_url="http://h:1", access_key_id="AK").resolve_secret()
    assert "secret" in str(err.value)


def test_secret_from_the_environment(monkeypatch):
    monkeypatch.setenv("P_SECRET", "s3cr3t")
    s = CloudProfile("p", "r", endpoint_url="http://h:1", access_key_id="AK", secret_env="P_SECRET").resolve_secret()
    assert s.reveal() == "s3cr3t" and "s3cr3t" not in repr(s)


# Service paths of a Eucalyptus 4.x cloud controller, as its own files spell them: the euca2ools.ini a
# 4.x install writes ("ec2-url = http://CLC:8773/services/compute", "s3-url = .../services/objectstorage",
# "iam-url = .../services/Euare", "sts-url = .../services/Tokens",
# "elasticloadbalancing-url = .../services/LoadBalancing", "autoscaling-url = .../services/AutoScaling",
# "monitoring-url = .../services/CloudWatch", "cloudformation-url = .../services/CloudFormation"), and the
# Eucalyptus endpoints.json published by its engineers (gist jeevanullas/9ef7d5a5440416de5b15:
# "uri":"http://10.104.10.45:8773/services/LoadBalancing/", ".../services/AutoScaling/", ".../services/CloudWatch/").
EUCALYPTUS_PATHS = {"ec2": "compute", "s3": "objectstorage", "iam": "Euare", "sts": "Tokens",
                    "elastic_load_balancing": "LoadBalancing", "auto_scaling": "AutoScaling",
                    "cloudwatch": "CloudWatch", "cloudformation": "CloudFormation"}


def test_eucalyptus_presets_lay_out_both_styles():
    path = preset_profile("eucalyptus", "e", region="partner01", host="10.0.0.1")
    assert path.endpoints == {sid: f"http://10.0.0.1:8773/services/{p}" for sid, p in EUCALYPTUS_PATHS.items()}
    dns = preset_profile("eucalyptus-dns", "e", region="partner01", host="cloud.example.com")
    assert dns.endpoints["ec2"] == "http://compute.partner01.cloud.example.com:8773/"
    assert dns.endpoints["auto_scaling"] == "http://autoscaling.partner01.cloud.example.com:8773/"
    assert len(path.validated().endpoints) == len(dns.validated().endpoints) == 8


def test_gateway_and_per_service_presets():
    assert preset_profile("localstack", "l", region="us-east-1", host="h").endpoint_url == "http://h:4566"
    assert preset_profile("moto", "m", region="r", url="http://127.0.0.1:5/").endpoint_url == "http://127.0.0.1:5"
    assert preset_profile("minio", "m", region="r", host="h").endpoints == {"s3": "http://h:9000", "sts": "http://h:9000"}
    ceph = preset_profile("ceph-rgw", "c", region="r", host="h", port=8080, scheme="https")
    assert set(ceph.endpoints) == {"s3", "iam", "sts"} and ceph.endpoints["iam"] == "https://h:8080"
    with pytest.raises(AwsError):
        preset_profile("openstack", "o", region="r", host="h")
    for host in ("http://127.0.0.1", "h/services", "h 2"):
        with pytest.raises(AwsError, match="is not a host name"):
            preset_profile("moto", "m", region="r", host=host)
    assert set(PRESETS) == {"eucalyptus", "eucalyptus-dns", "minio", "ceph-rgw", "localstack", "moto"}


def test_rendered_sections_use_indented_subsections():
    p = preset_profile("eucalyptus", "e", region="partner01", host="10.0.0.1").validated()
    blocks = config_blocks(p)
    prof = blocks[("profile", "e")]
    assert prof[0] == "profile e" and "services = e" in prof and prof[-2:] == ["s3 =", "  addressing_style = path"]
    svc = blocks[("services", "e")]
    assert svc[0] == "services e"
    i = svc.index("ec2 =")
    assert svc[i + 1] == "  endpoint_url = http://10.0.0.1:8773/services/compute"
    assert not any("= endpoint_url" in line for line in svc)
