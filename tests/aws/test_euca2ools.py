"""Import of euca2ools .ini region sections and eucarc files into CloudProfiles."""

from __future__ import annotations

import pytest

from labkit.aws import AwsError, from_euca2ools_ini, from_eucarc, write_profile

pytestmark = pytest.mark.unit

INI = """[global]
default-region = partner01

[region partner01]
ec2-url = http://10.0.0.1:8773/services/compute/
s3-url = http://10.0.0.1:8773/services/objectstorage/
iam-url = http://10.0.0.1:8773/services/Euare/
sts-url = http://10.0.0.1:8773/services/Tokens/
autoscaling-url = http://10.0.0.1:8773/services/AutoScaling/
monitoring-url = http://10.0.0.1:8773/services/CloudWatch/
elasticloadbalancing-url = http://10.0.0.1:8773/services/LoadBalancing/
bootstrap-url = http://10.0.0.1:8773/services/Empyrean/
verify-ssl = false
user = admin

[user partner01:admin]
key-id = AKIDPARTNER01
secret-key = euca-secret-1234
account-id = 000000000001

[region lab.example.com]
ec2-url = https://compute.lab.example.com:8773/
user = nobody
"""

EUCARC = """EUCA_KEY_DIR=$(cd $(dirname ${BASH_SOURCE:-$0}); pwd -P)
export EC2_URL=http://192.168.1.10:8773/services/compute
export S3_URL=http://192.168.1.10:8773/services/objectstorage
export AWS_IAM_URL=http://192.168.1.10:8773/services/Euare
export TOKEN_URL=http://192.168.1.10:8773/services/Tokens
export AWS_CLOUDWATCH_URL=http://192.168.1.10:8773/services/CloudWatch
export EC2_ACCESS_KEY='AKIDEUCARC'
export EC2_SECRET_KEY='eucarc-secret-5678'
export EC2_CERT=${EUCA_KEY_DIR}/euca2-admin-cert.pem
alias ec2-bundle-image="ec2-bundle-image --cert ${EC2_CERT}"
"""


def test_ini_regions_become_profiles(tmp_path):
    (tmp_path / "partner01.ini").write_text(INI)
    (tmp_path / "notes.txt").write_text("[region ignored]\nec2-url = http://x/\n")
    profiles = from_euca2ools_ini(tmp_path)
    assert [p.name for p in profiles] == ["partner01", "lab.example.com"]
    p, lab = profiles
    assert p.region == "partner01" and not p.verify_tls
    assert p.endpoints["ec2"] == "http://10.0.0.1:8773/services/compute/"
    assert p.endpoints["cloudwatch"].endswith("/CloudWatch/")
    assert p.endpoints["elastic_load_balancing"].endswith("/LoadBalancing/")
    assert p.endpoints["auto_scaling"].endswith("/AutoScaling/")
    assert "bootstrap" not in " ".join(p.endpoints)
    assert p.access_key_id == "AKIDPARTNER01" and p.secret.reveal() == "euca-secret-1234"
    assert "euca-secret-1234" not in repr(p)
    assert lab.region == "lab-example-com" and lab.access_key_id is None


def test_imported_profile_writes_and_reads_back(tmp_path):
    from botocore.configloader import load_config

    ini = tmp_path / "x.ini"
    ini.write_text(INI)
    p = from_euca2ools_ini(ini)[0]
    write_profile(p, tmp_path / "config", tmp_path / "credentials", dry_run=False)
    cfg = load_config(str(tmp_path / "config"))
    assert cfg["services"]["partner01"]["ec2"]["endpoint_url"] == "http://10.0.0.1:8773/services/compute/"
    assert cfg["services"]["partner01"]["auto_scaling"]["endpoint_url"].endswith("/AutoScaling/")
    assert "--no-verify-ssl" in (tmp_path / "config").read_text()
    creds = load_config(str(tmp_path / "credentials"))
    assert creds["partner01"]["aws_secret_access_key"] == "euca-secret-1234"


def test_eucarc_becomes_a_profile(tmp_path):
    d = tmp_path / "partner02"
    d.mkdir()
    (d / "eucarc").write_text(EUCARC)
    p = from_eucarc(d / "eucarc")
    assert p.name == "partner02" and p.region == "eucalyptus"
    assert p.endpoints == {"ec2": "http://192.168.1.10:8773/services/compute",
                           "s3": "http://192.168.1.10:8773/services/objectstorage",
                           "iam": "http://192.168.1.10:8773/services/Euare",
                           "sts": "http://192.168.1.10:8773/services/Tokens",
                           "cloudwatch": "http://192.168.1.10:8773/services/CloudWatch"}
    assert p.access_key_id == "AKIDEUCARC" and p.secret.reveal() == "eucarc-secret-5678"
    assert from_eucarc(d / "eucarc", name="lab", region="partner02").region == "partner02"
    assert p.validated().endpoints["ec2"].endswith("/services/compute")


def test_files_without_clouds_say_so(tmp_path):
    (tmp_path / "empty.ini").write_text("[global]\ndefault-region = x\n")
    with pytest.raises(AwsError):
        from_euca2ools_ini(tmp_path / "empty.ini")
    (tmp_path / "rc").write_text("export FOO=bar\n")
    with pytest.raises(AwsError):
        from_eucarc(tmp_path / "rc")
    with pytest.raises(AwsError):
        from_eucarc(tmp_path / "missing")


@pytest.mark.parametrize("text, where", [
    ("secret-key = euca-secret-1234\n[region r]\nec2-url = http://h:8773/\n", "line 1 comes before any [section]"),
    ("[user admin]\nkey-id = AKID\n  secret-key euca-secret-1234\n=euca-secret-1234\n", "line 4"),
])
def test_a_broken_ini_is_one_line_naming_the_line_but_never_its_text(tmp_path, text, where):
    (tmp_path / "bad.ini").write_text(text)
    with pytest.raises(AwsError) as err:
        from_euca2ools_ini(tmp_path / "bad.ini")
    message = f"{err.value}"
    assert where in message and "\n" not in message and "euca-secret-1234" not in message


def test_a_directory_without_ini_files_is_named(tmp_path):
    (tmp_path / "eucarc").write_text("export EC2_URL=http://h:8773/services/compute\n")
    with pytest.raises(AwsError) as err:
        from_euca2ools_ini(tmp_path)
    assert f"directory {tmp_path} holds no .ini file" in str(err.value)
