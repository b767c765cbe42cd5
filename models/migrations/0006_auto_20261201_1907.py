from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from huituan.models.leader import ShortageKind
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0005_auto_20261201_1853')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ConsumerLeader',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user_id', fields.BigIntField(unique=True)),
                ('leader_id', fields.BigIntField()),
                ('pickup_point_id', fields.BigIntField()),
                ('source', fields.CharField(default='chosen', max_length=16)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'consumer_leader', 'app': 'models', 'pk_attr': 'id', 'table_description': 'The default leader and pickup point of a consumer (changeable).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LeaderCommissionRule',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('product_id', fields.BigIntField(unique=True)),
                ('rate_bp', fields.IntField()),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'leader_commission_rule', 'app': 'models', 'pk_attr': 'id', 'table_description': 'Leader commission rate of one product in basis points (overrides leader and global rates).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LeaderProduct',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('leader_id', fields.BigIntField()),
                ('product_id', fields.BigIntField()),
                ('enabled', fields.BooleanField(default=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'leader_product', 'app': 'models', 'unique_together': (('leader_id', 'product_id'),), 'pk_attr': 'id', 'table_description': 'A platform product switched on or off in one leader store (团长小店). No row means on.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LeaderStaff',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('leader', fields.ForeignKeyField('models.Leader', source_field='leader_id', db_constraint=True, to_field='id', related_name='staff', on_delete=OnDelete.CASCADE)),
                ('user_id', fields.BigIntField(db_index=True)),
                ('name', fields.CharField(default='', max_length=32)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'leader_staff', 'app': 'models', 'unique_together': (('leader', 'user_id'),), 'pk_attr': 'id', 'table_description': 'A helper of a leader who may verify pickups at the leader points (店员).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PickupTicket',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('order_id', fields.BigIntField(unique=True)),
                ('user_id', fields.BigIntField()),
                ('pickup_point_id', fields.BigIntField()),
                ('day', fields.CharField(max_length=10)),
                ('code', fields.CharField(max_length=16)),
                ('notified_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('verified_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('verified_by_user_id', fields.BigIntField(null=True)),
                ('verified_by_name', fields.CharField(default='', max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'pickup_ticket', 'app': 'models', 'indexes': [Index(fields=['pickup_point_id', 'day']), Index(fields=['pickup_point_id', 'code'])], 'pk_attr': 'id', 'table_description': 'The pickup code of one paid pickup order and the point day it belongs to.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PointDay',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('pickup_point_id', fields.BigIntField()),
                ('day', fields.CharField(max_length=10)),
                ('cutoff_pushed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('arrived_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('arrived_by', fields.CharField(default='', max_length=64)),
            ],
            options={'table': 'point_day', 'app': 'models', 'unique_together': (('pickup_point_id', 'day'),), 'pk_attr': 'id', 'table_description': 'What happened to one pickup point on one day: cutoff pushed, goods arrived.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ShortageReport',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('leader_id', fields.BigIntField(db_index=True)),
                ('pickup_point_id', fields.BigIntField()),
                ('day', fields.CharField(max_length=10)),
                ('product_id', fields.BigIntField()),
                ('sku_id', fields.BigIntField(null=True)),
                ('title', fields.CharField(default='', max_length=100)),
                ('kind', fields.CharEnumField(default=ShortageKind.shortage, description='shortage: shortage\ndamage: damage', enum_type=ShortageKind, max_length=10)),
                ('quantity', fields.IntField()),
                ('refunded_quantity', fields.IntField(default=0)),
                ('refunded_fen', fields.IntField(default=0)),
                ('refunds', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('note', fields.CharField(default='', max_length=200)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'shortage_report', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A shortage or damage report (报损) of a leader, with the refunds it caused.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WecomBindCode',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('code', fields.CharField(unique=True, max_length=16)),
                ('kind', fields.CharField(max_length=16)),
                ('account_id', fields.BigIntField()),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('used_by', fields.CharField(default='', max_length=64)),
            ],
            options={'table': 'wecom_bind_code', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A one-time code that links the WeCom user who sends it (绑定) to a leader or an operator.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='DistributionSettings',
            name='leader_commission_bp',
            field=fields.IntField(default=500),
        ),
        ops.AlterField(
            model_name='Leader',
            name='commission_bp',
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name='Leader',
            name='decided_by',
            field=fields.BigIntField(null=True),
        ),
        ops.AddField(
            model_name='Leader',
            name='reject_reason',
            field=fields.CharField(default='', max_length=200),
        ),
        ops.AddField(
            model_name='Leader',
            name='rejected_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Leader',
            name='robot_key',
            field=fields.CharField(default='', max_length=128),
        ),
        ops.AddField(
            model_name='Leader',
            name='wecom_userid',
            field=fields.CharField(null=True, unique=True, max_length=64),
        ),
        ops.AddIndex(
            model_name='PickupPoint',
            index=Index(fields=['latitude', 'longitude']),
        ),
    ]
