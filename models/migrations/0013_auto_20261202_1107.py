from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0012_auto_20261202_1059')]

    initial = False

    operations = [
        ops.AlterModelOptions(
            name='LeaderStaff',
            options={'table': 'leader_staff', 'app': 'models', 'unique_together': (('leader', 'user_id'),), 'pk_attr': 'id', 'table_description': 'A helper of a leader who may verify pickups at the leader points (店员). The leader invites'},
        ),
        ops.AddField(
            model_name='LeaderStaff',
            name='accepted_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        # Staff added before invitations existed keep their powers: taken as accepted when added.
        ops.RunSQL("UPDATE leader_staff SET accepted_at = created_at WHERE accepted_at IS NULL",
                   reverse_sql="SELECT 1"),
    ]
