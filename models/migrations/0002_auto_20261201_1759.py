from tortoise import migrations
from tortoise.migrations import operations as ops
from huituan.models.outbox import OutboxKind
from tortoise import fields
from tortoise.migrations.constraints import UniqueConstraint

class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.AddField(
            model_name='DistributionSettings',
            name='commission_cap_bp',
            field=fields.IntField(default=3000),
        ),
        ops.AddField(
            model_name='Order',
            name='request_hash',
            field=fields.CharField(default='', max_length=64),
        ),
        ops.AlterField(
            model_name='OutboxMessage',
            name='kind',
            field=fields.CharEnumField(description='subscribe_message: subscribe_message\nwecom_message: wecom_message\nrobot_push: robot_push\nrefund: refund\ntransfer: transfer\ntransfer_cancel: transfer_cancel', enum_type=OutboxKind, max_length=32),
        ),
        ops.AddField(
            model_name='Refund',
            name='payment_transaction_id',
            field=fields.CharField(null=True, unique=True, max_length=64),
        ),
        ops.AddField(
            model_name='Withdrawal',
            name='idempotency_key',
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.AddField(
            model_name='Withdrawal',
            name='request_hash',
            field=fields.CharField(default='', max_length=64),
        ),
        ops.AddConstraint(
            model_name='Withdrawal',
            constraint=UniqueConstraint(fields=('user_id', 'idempotency_key'), name=None),
        ),
    ]
