from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from huituan.models.order import UnmatchedPaymentStatus
from json import dumps, loads
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0009_auto_20261202_0231')]

    initial = False

    operations = [
        ops.CreateModel(
            name='UnmatchedPayment',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('transaction_id', fields.CharField(unique=True, max_length=64)),
                ('out_trade_no', fields.CharField(db_index=True, max_length=64)),
                ('amount_fen', fields.IntField()),
                ('payer_openid', fields.CharField(default='', max_length=128)),
                ('notify_payload', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('status', fields.CharEnumField(default=UnmatchedPaymentStatus.open, db_index=True, description='open: open\nresolved: resolved', enum_type=UnmatchedPaymentStatus, max_length=16)),
                ('resolved_by', fields.BigIntField(null=True)),
                ('resolution_note', fields.CharField(default='', max_length=200)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('resolved_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'unmatched_payment', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A verified WeChat Pay payment naming no order of ours, kept for an operator.'},
            bases=['Model'],
        ),
        ops.AlterField(
            model_name='Payment',
            name='payer_openid',
            field=fields.CharField(default='', max_length=128),
        ),
    ]
