from tortoise import migrations
from tortoise.migrations import operations as ops
from huituan.models.order import UnmatchedPaymentStatus
from huituan.models.outbox import OutboxKind
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0010_auto_20261202_0514')]

    initial = False

    operations = [
        ops.AlterField(
            model_name='OutboxMessage',
            name='kind',
            field=fields.CharEnumField(description='subscribe_message: subscribe_message\nwecom_message: wecom_message\nrobot_push: robot_push\nrefund: refund\ntransfer: transfer\nwechat_shipping_info: wechat_shipping_info\nwechat_confirm_receive: wechat_confirm_receive\ntransfer_cancel: transfer_cancel\nnotification: notification\nwecom_poster: wecom_poster\nunmatched_refund: unmatched_refund', enum_type=OutboxKind, max_length=32),
        ),
        ops.AlterField(
            model_name='UnmatchedPayment',
            name='status',
            field=fields.CharEnumField(default=UnmatchedPaymentStatus.open, db_index=True, description='open: open\nrefunding: refunding\nrefunded: refunded\nresolved: resolved', enum_type=UnmatchedPaymentStatus, max_length=16),
        ),
        ops.AddField(
            model_name='UnmatchedPayment',
            name='refund_attempts',
            field=fields.IntField(default=0),
        ),
        ops.AddField(
            model_name='UnmatchedPayment',
            name='refund_failure',
            field=fields.CharField(default='', max_length=200),
        ),
        ops.AddField(
            model_name='UnmatchedPayment',
            name='refund_no',
            field=fields.CharField(null=True, unique=True, max_length=32),
        ),
        ops.AddField(
            model_name='UnmatchedPayment',
            name='refund_requested_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='UnmatchedPayment',
            name='wechat_refund_id',
            field=fields.CharField(null=True, max_length=64),
        ),
    ]
